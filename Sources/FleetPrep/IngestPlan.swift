import FleetLabels
import FleetShards
import Foundation

/// What the workers of an ingest (or an online `SampleStream`) read, fixed before any of them
/// starts and never changed after: discovery's clip groups and label schema, and the one-shape
/// rule applied to the batch's first group (its cameras and tensor size become part of the
/// configuration every group is scanned with). `IngestEngine` runs it.
struct IngestPlan: Sendable {
    /// This worker's clip groups, in order (their positions are the group numbers).
    let items: [IngestItem]
    /// The dataset's label columns.
    let schema: LabelSchema
    /// The configuration the workers scan and transform with: the caller's, plus what the first
    /// group fixed (cameras, size, camera count) unless `--mixed-shapes`.
    let config: IngestConfiguration
    /// The dataset's one tensor (nil with `--mixed-shapes`, or when no group scans).
    let tensor: TensorSpec?
    /// The plan of group 0 when it is the batch's first group, already scanned to fix the shape:
    /// the engine uses it instead of scanning that group again (with the shape it fixed, the
    /// workers' configuration gives the same plan).
    let firstGroup: GroupPlan?

    /// One tensor shape per dataset unless `--mixed-shapes`: the first clip group of the whole
    /// batch that scans (the same for every worker) fixes the size and the cameras.
    init(config cfg: IngestConfiguration, inputs: IngestInputs, items: [IngestItem]) {
        self.items = items
        schema = inputs.schema
        guard !cfg.mixedShapes, let (first, position) = Self.firstPlan(inputs.items, config: cfg, schema: inputs.schema) else {
            (config, tensor, firstGroup) = (cfg, nil, nil)
            return
        }
        var c = cfg
        let t = first.tensor
        c.datasetCameras = first.cameras.map(\.camera)
        let hw = t.layout == .chw ? (t.shape[2], t.shape[3]) : (t.shape[1], t.shape[2])
        if c.transform.outputWidth == nil { c.transform.outputWidth = hw.1; c.transform.outputHeight = hw.0 }
        c.expectedCameras = t.shape[0]
        config = c
        tensor = t
        firstGroup = position == 0 && items.first?.key == first.item.key ? first : nil
    }

    /// The plan of the first clip group (in the order of the whole batch, so every worker finds
    /// the same) that scans, and its position in the batch; nil when none does.
    static func firstPlan(_ items: [IngestItem], config: IngestConfiguration, schema: LabelSchema) -> (GroupPlan, Int)? {
        for (i, item) in items.enumerated() {
            if config.labelOptions.cancellation.isCancelled { return nil }
            if let plan = try? GroupPlan.scan(item, number: 0, config: config, schema: schema) { return (plan, i) }
        }
        return nil
    }
}
