"""The claims table as markdown (for the CLI and the README)."""

from __future__ import annotations


def claims_markdown(rows: list[dict], *, short_ids: bool = True) -> str:
    head = "| # | claim | status | effect | interval | runs | what would settle it / how to test |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        ids = ", ".join(x[:8] if short_ids else x for x in r["runs"]) or "—"
        cells = [str(r["claim"]), r["text"], f"**{r['status']}**", r["effect"] or "—", r["interval"] or "—", ids,
                 r["next"] or "—"]
        lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)
