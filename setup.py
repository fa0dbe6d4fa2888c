from setuptools import find_packages, setup

setup(
    name="tenken",
    version="0.1.0",
    description="Reconcile My Number links of 29 administrative data holders against the resident register",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["jobs", "jobs.*"]),
    include_package_data=True,
    package_data={"jobs": ["data/*"]},
    install_requires=[
        # delta-spark 4.4.x supports pyspark 4.0.1-4.2.0; great_expectations 1.24 needs pyspark<4.2.
        # delta-spark 4.4.1 is on PyPI but its jar is not on Maven Central: 4.4.0 is.
        "pyspark==4.1.4",
        "delta-spark==4.4.0",
        "great_expectations==1.24.1",
        "pyarrow>=15,<27",
        "pandas>=2.2,<4",
        "click>=8.1,<9",
        "PyYAML>=6,<7",
        # the kanji-kana dictionary behind name readings (jobs/readings.py), read from the package
        "pykakasi==2.3.0",
    ],
    extras_require={"dev": ["pytest>=8,<10", "recordlinkage>=0.16,<0.17",
                            # the kill tests read the tables back with another Delta reader (delta-rs)
                            "deltalake>=1.0,<2"]},
    entry_points={"console_scripts": ["tenken=jobs.cli:main"]},
)
