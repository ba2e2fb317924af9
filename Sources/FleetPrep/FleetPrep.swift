// FleetPrep: the ingest pipeline and public entry points.
