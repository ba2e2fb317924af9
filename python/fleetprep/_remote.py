"""Remote datasets (placeholder; filled in below)."""
