// FleetPrep: the ingest pipeline and the public library entry points. It joins the one-way flow
// FleetMedia (decode) -> FleetKernels (transform) -> FleetLabels (align/sync) -> FleetShards (write).
@_exported import FleetMedia

/// This library's version (`fleetprep --version`; recorded nowhere else).
public let fleetPrepVersion = "0.1.0"
