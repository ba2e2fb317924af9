/// The planner's inputs with their defaults and the public source of each, as JSON: what
/// `fleetprep plan --print-defaults` prints and `--inputs FILE` reads back (edit a copy).
/// Every number is `{"value": …, "source": "…"}`; units are in the key names.
public enum PlannerDefaults {
    public static let json = #"""
{
  "budgetUSD": {"value": 500000000, "source": "Tesla's stated ~$500M Dojo investment in Buffalo, NY (Gov. Hochul, Jan 2024); issue #7"},
  "amortizationYears": {"value": 4, "source": "assumption: typical accelerator depreciation period"},
  "electricityUSDPerKWh": {"value": 0.08, "source": "assumption: US industrial electricity price, EIA 2024 average ~8 c/kWh"},
  "facilityPowerOverhead": {"value": 1.5, "source": "assumption: hosts, network and cooling add ~50% to accelerator power (PUE ~1.2 x host share)"},
  "h100": {
    "costPerGPUUSD": {"value": 50000, "source": "issue #7: ~$50k per H100 all-in (Musk's comparison for the $500M Dojo)"},
    "bf16DenseTFLOPS": {"value": 989, "source": "NVIDIA H100 SXM datasheet: 989 TFLOPS dense BF16 (1979 with sparsity)"},
    "hbmGB": {"value": 80, "source": "NVIDIA H100 SXM datasheet: 80 GB HBM3"},
    "hbmTBps": {"value": 3.35, "source": "NVIDIA H100 SXM datasheet: 3.35 TB/s"},
    "nvdecPerGPU": {"value": 7, "source": "NVIDIA H100 datasheet: 7 NVDEC"},
    "nvdecFramesPerSecond1080pH264": {"value": 714, "source": "nominal per-NVDEC rate for 1080p H.264, to be read against NVIDIA's NVDEC Application Note, Video Codec SDK 13.0, section 3 'NVDEC Performance' (https://docs.nvidia.com/video-technologies/video-codec-sdk/13.0/nvdec-application-note/index.html): the vendor's decode rates per GPU family; NVDEC runs several decode contexts with negligible context-switching cost up to the engine's limit. 714 = 5e7 frames/s over 7 NVDECs x 10,000 GPUs (issue #7); see docs/planner.md"},
    "nvdecMeasuredFramesPerSecondPerGPU1280x960H264": {"value": 1128, "source": "measured on an H200 (7 NVDEC) with ffmpeg -hwaccel cuda -hwaccel_output_format cuda -f null, 16 concurrent 1280x960 H.264 clips of 360 frames, context creation included (381 for 1 stream, 997 for 4, 1124 for 8): a lower bound (issue #18)"},
    "nvdecMeasuredFramesPerSecondPerGPU1280x960HEVC": {"value": 631, "source": "measured on an H200 (7 NVDEC) with ffmpeg -hwaccel cuda, 8 concurrent 1280x960 HEVC clips of 360 frames, context creation included (1412 frames/s of CPU HEVC with 16 processes on the same host): a lower bound (issue #18)"},
    "powerW": {"value": 700, "source": "NVIDIA H100 SXM datasheet: up to 700 W TDP"},
    "gpusPerNode": {"value": 8, "source": "NVIDIA DGX H100: 8 GPUs per node"},
    "hostCoresPerNode": {"value": 112, "source": "NVIDIA DGX H100: 2x Intel Xeon Platinum 8480C, 112 cores"},
    "hostToDeviceGBps": {"value": 64, "source": "PCIe Gen5 x16: ~64 GB/s per direction per GPU"}
  },
  "dojo": {
    "costPerTileUSD": {"value": 3000000, "source": "placeholder: no official Dojo price exists; set your own estimate with --dojo-tile-cost"},
    "d1PerTile": {"value": 25, "source": "Tesla AI Day 2021: training tile of 25 D1 dies"},
    "tileBF16PFLOPS": {"value": 9, "source": "Tesla AI Day 2021: 9 PFLOPS BF16/CFP8 per training tile"},
    "tileSRAMGB": {"value": 11, "source": "Tesla AI Day 2021: 11 GB SRAM per tile"},
    "tilePowerKW": {"value": 15, "source": "Tesla AI Day 2021: 15 kW per training tile"},
    "tilesPerExaPOD": {"value": 120, "source": "Tesla AI Day 2022: ExaPOD of 120 tiles, 1.1 EFLOPS"},
    "hostCoresPerTile": {"value": 112, "source": "assumption: one 112-core host per tile (Tesla has not published host counts)"},
    "hostToTileGBps": {"value": 160, "source": "Tesla AI Day 2022: 5 Dojo Interface Processors per tile edge, PCIe Gen4 x16 (~32 GB/s) each"}
  },
  "workload": {
    "camerasPerCar": {"value": 8, "source": "Tesla HW3/HW4: 8 exterior cameras"},
    "framesPerSecond": {"value": 36, "source": "Tesla camera frame rate, 36 fps (AI Day 2021)"},
    "width": {"value": 1280, "source": "Tesla HW3 camera: 1280x960 (1.2 MP)"},
    "height": {"value": 960, "source": "Tesla HW3 camera: 1280x960 (1.2 MP)"},
    "codec": {"value": "h264", "source": "assumption: fleet uploads in H.264"},
    "bitrateMbpsPerCamera": {"value": 4, "source": "assumption: ~4 Mbit/s H.264 at 1280x960, 36 fps"},
    "clipSeconds": {"value": 60, "source": "assumption: one-minute event clips"},
    "outputChannels": {"value": 3, "source": "RGB tensors"},
    "outputWidth": {"value": 640, "source": "fleetprep ingest --size 640x480"},
    "outputHeight": {"value": 480, "source": "fleetprep ingest --size 640x480"},
    "outputBytesPerElement": {"value": 2, "source": "float16 (fleetprep ingest --dtype f16)"},
    "sampledFraction": {"value": 1, "source": "every frame kept (fleetprep ingest --stride 1)"}
  },
  "models": {
    "resnet50": {
      "trainingFLOPsPerSample": {"value": 2.5e10, "source": "issue #7: ~25 GFLOP per ResNet-50-size training frame (3 x 4.1 GFLOP forward at 224x224, scaled for larger input)"},
      "framesPerSample": {"value": 1, "source": "a per-frame vision model"}
    },
    "bev": {
      "trainingFLOPsPerSample": {"value": 1.5e12, "source": "assumption: multi-camera BEV model, 8 cameras x ~60 GFLOP forward x 3 for training"},
      "framesPerSample": {"value": 8, "source": "one frame per camera"}
    }
  },
  "mfu": {"value": 0.4, "source": "issue #7: 40% model FLOPs utilization"},
  "engine": {
    "h264FramesPerCoreSecond1280x960": {"value": 380, "source": "measured on the FleetPrep dev machine: fleetprep bench, H.264 1280x960 decode, 1 thread (2026-11)"},
    "hevcFramesPerCoreSecond1280x960": {"value": 300, "source": "measured on the FleetPrep dev machine: fleetprep bench, HEVC 1280x960 decode, 1 thread (2026-11)"}
  },
  "storageReadGBps": {"value": 2000, "source": "assumption: a large parallel file system (e.g. ~2 TB/s class Lustre/WEKA deployments)"},
  "preprocessingNodeCores": {"value": 128, "source": "assumption: dual-socket AMD EPYC 9554 (2 x 64 cores) preprocessing node"},
  "shardTargetBytes": {"value": 20000000000, "source": "fleetprep ingest --target h100 (80 GB HBM3) with the default fill 0.25"}
}
"""#
}
