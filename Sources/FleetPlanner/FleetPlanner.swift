// FleetPlanner: see docs/ARCHITECTURE.md. Foundation only, no FFmpeg.
