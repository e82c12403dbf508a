"""Builders of labelled photo folders from public snapshots (the layouts `faceedge dataset prepare` reads)."""
