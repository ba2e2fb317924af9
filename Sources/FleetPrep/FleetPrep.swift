// FleetPrep: the ingest pipeline and the public library entry points. It joins the one-way flow
// FleetMedia (decode) -> FleetKernels (transform) -> FleetLabels (align/sync) -> FleetShards (write).
@_exported import FleetMedia
// The types of the public configuration (`TransformConfig`, `ShardFormat`, `MemoryTarget`,
// `MissingCameraPolicy`, ...) come with `import FleetPrep`.
@_exported import FleetKernels
@_exported import FleetLabels
@_exported import FleetShards

/// This library's version (`fleetprep --version`; recorded nowhere else).
public let fleetPrepVersion = "0.1.0"
