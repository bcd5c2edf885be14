"""The distributed mode: many fetch workers and one writer per broker, through Redis (see docs/scale.md)."""
