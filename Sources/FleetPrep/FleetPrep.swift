// FleetPrep: the ingest pipeline and the public library entry points. It joins the one-way flow
// FleetMedia (decode) -> FleetKernels (transform) -> FleetLabels (align/sync) -> FleetShards (write).
@_exported import FleetMedia
