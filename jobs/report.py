"""The run's console summary (the HTML report comes with the headquarters' view)."""

from __future__ import annotations

import click


def print_summary(summary: dict, cfg: dict) -> None:
    """Print suspects per category and reason, with the run's figures."""
    cats = cfg["categories"]
    click.echo(f"run {summary['run_id']}: {summary['status']} in {summary['duration_s']:.1f} s")
    click.echo(f"  residents {summary['residents']:,}  records {summary['records']:,}  "
               f"suspects {summary['suspects']:,}  quarantined {summary['quarantined']:,}")
    click.echo("  suspects by reason: " + ", ".join(
        f"{k} {v:,}" for k, v in sorted(summary["reason_counts"].items(), key=lambda kv: -kv[1])))
    click.echo(f"  {'category':<28} {'':<18} {'records':>9} {'suspects':>9}  by reason")
    by_cat: dict[str, list] = {}
    for cat, reason, n in summary.get("suspects_by_category_reason", []):
        by_cat.setdefault(cat, []).append(f"{reason} {n}")
    for row in summary["categories"]:
        cid = row["category"]
        name = cats.get(cid, {}).get("name_ja", "")
        click.echo(f"  {cid:<28} {name[:9]:<{18 - sum(1 for ch in name[:9] if ord(ch) > 0x2E80)}} "
                   f"{row['input_rows']:>9,} {row['suspects']:>9,}  {', '.join(by_cat.get(cid, []))}")
    click.echo("  stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary["stage_seconds"].items()))
