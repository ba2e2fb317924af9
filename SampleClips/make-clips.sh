#!/usr/bin/env bash
# Regenerates the bundled sample clips from FFmpeg's synthetic sources, and records beside each
# clip the oracle the tests compare against:
#   NAME.probe.json  ffprobe's facts (streams, format, every video frame's pts/time/key flag)
#   NAME.framemd5    the ffmpeg CLI's md5 of every decoded video frame (native pixel format,
#                    no autorotate, no frame-rate conversion)
# Test-only bad files (truncated, empty, corrupt, not media, audio only) go to Tests/Fixtures/.
#
# Usage: SampleClips/make-clips.sh        (needs the ffmpeg and ffprobe CLIs, 5.1 or newer)
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
bad="$root/Tests/Fixtures"
mkdir -p "$bad"

FF=(ffmpeg -hide_banner -loglevel error -y)
BITEXACT=(-fflags +bitexact -flags:v +bitexact -map_metadata -1)

oracle() { # clip -> clip.probe.json + clip.framemd5
    local clip=$1 base=${1%.*}
    ffprobe -v error -print_format json -show_format -show_streams \
        -show_entries frame=media_type,stream_index,pts,pts_time,best_effort_timestamp,best_effort_timestamp_time,key_frame,width,height,pix_fmt \
        -select_streams v -show_frames "$clip" > "$base.probe.json"   # nb_streams: see format
    ffmpeg -hide_banner -loglevel error -noautorotate -i "$clip" -map 0:v:0 -fps_mode passthrough \
        -f framemd5 - > "$base.framemd5"
}

# --- one recorded event: 8 cameras, shared start time, 36 fps, 2 s, 160x120 -------------------
event=event_0001
mkdir -p "$event"
cams=(main narrow wide left_pillar right_pillar left_repeater right_repeater rear)
i=0
for cam in "${cams[@]}"; do
    # A different synthetic scene per camera; the rear camera drops frame 40 (a real-world glitch
    # that camera sync must notice): its timestamps jump by two frame periods there.
    vf="hue=h=$((i * 45))"
    [ "$cam" = rear ] && vf="$vf,select='not(eq(n\,40))'"
    "${FF[@]}" -f lavfi -i "testsrc2=size=160x120:rate=36:duration=2" -vf "$vf" -fps_mode passthrough \
        -c:v libx264 -preset veryfast -crf 30 -g 36 -bf 2 -pix_fmt yuv420p "${BITEXACT[@]}" "$event/$cam.mp4"
    oracle "$event/$cam.mp4"
    i=$((i + 1))
done
# Vehicle signals on the clip's clock (~50 Hz with jitter, starting 0.1 s after the video) and one
# annotation per 9th frame: inputs for label alignment.
python3 - "$event" <<'PY'
import json, math, sys
d = sys.argv[1]
t, rows = 0.1, []
k = 0
while t < 2.05:
    speed = 20.0 + 2.0 * math.sin(t)          # m/s
    steer = 5.0 * math.sin(3.0 * t)            # degrees
    gear = 4 if t < 1.0 else 5                 # categorical
    rows.append(f"{t:.6f},{speed:.6f},{steer:.6f},{gear}")
    k += 1
    t = 0.1 + k * 0.02 + (0.003 if k % 3 == 0 else 0.0)
with open(f"{d}/signals.csv", "w") as f:
    f.write("t,speed,steering_angle,gear\n" + "\n".join(rows) + "\n")
with open(f"{d}/annotations.jsonl", "w") as f:
    for n in range(0, 72, 9):
        f.write(json.dumps({"frame": n, "boxes": [{"label": "car", "xyxy": [10 + n, 20, 60 + n, 70]}]}) + "\n")
with open(f"{d}/clip.json", "w") as f:
    json.dump({"event_id": "event_0001",
               "cameras": ["main", "narrow", "wide", "left_pillar", "right_pillar",
                           "left_repeater", "right_repeater", "rear"],
               "master": "main",
               "offsets": {},
               "units": {"speed": "m/s", "steering_angle": "deg", "gear": "categorical"},
               "categorical": ["gear"]}, f, indent=2)
    f.write("\n")
PY

# --- the 1280x960 benchmark pair (Tesla-like camera size, 36 fps, 4 s) --------------------------
"${FF[@]}" -f lavfi -i "testsrc2=size=1280x960:rate=36:duration=4" -c:v libx264 -preset medium -crf 26 \
    -g 36 -bf 2 -pix_fmt yuv420p "${BITEXACT[@]}" h264_1280x960.mp4
oracle h264_1280x960.mp4
"${FF[@]}" -f lavfi -i "testsrc2=size=1280x960:rate=36:duration=4" -c:v libx265 -preset fast -crf 30 \
    -x265-params log-level=error:keyint=36 -pix_fmt yuv420p -tag:v hvc1 "${BITEXACT[@]}" hevc_1280x960.mp4
oracle hevc_1280x960.mp4

# --- 10-bit HEVC in Matroska -------------------------------------------------------------------
"${FF[@]}" -f lavfi -i "mandelbrot=size=320x240:rate=25,trim=duration=1" -c:v libx265 -preset fast -crf 28 \
    -x265-params log-level=error -pix_fmt yuv420p10le "${BITEXACT[@]}" hevc10_320x240.mkv
oracle hevc10_320x240.mkv

# --- odd dimensions (FFV1 lossless, yuv420p with rounded-up chroma) -----------------------------
"${FF[@]}" -f lavfi -i "testsrc=size=321x241:rate=10:duration=1" -c:v ffv1 -pix_fmt yuv420p \
    "${BITEXACT[@]}" odd_321x241.mkv
oracle odd_321x241.mkv

# --- variable frame rate: irregular timestamps in Matroska (1 ms time base) ---------------------
"${FF[@]}" -f lavfi -i "testsrc2=size=160x120:rate=30:duration=1.5" \
    -vf "settb=1/1000,setpts='N/30/TB + eq(mod(N\,4)\,1)*0.012/TB'" -fps_mode vfr -enc_time_base:v 1/1000 \
    -c:v libx264 -preset veryfast -crf 30 -bf 0 -pix_fmt yuv420p "${BITEXACT[@]}" vfr_160x120.mkv
oracle vfr_160x120.mkv

# --- audio stream before the video stream (like the real dashcam fixture) -----------------------
"${FF[@]}" -f lavfi -i "sine=frequency=440:duration=1" -f lavfi -i "smptebars=size=192x108:rate=25:duration=1" \
    -map 0:a -map 1:v -c:a aac -b:a 32k -c:v libx264 -preset veryfast -crf 30 -pix_fmt yuv420p \
    "${BITEXACT[@]}" audio_first_192x108.mp4
oracle audio_first_192x108.mp4

# --- rotated: display matrix says 90 degrees ----------------------------------------------------
"${FF[@]}" -f lavfi -i "testsrc2=size=160x96:rate=25:duration=1" -c:v libx264 -preset veryfast -crf 30 \
    -pix_fmt yuv420p "${BITEXACT[@]}" /tmp/fleetprep_unrotated.mp4
"${FF[@]}" -i /tmp/fleetprep_unrotated.mp4 -c copy -fflags +bitexact -metadata:s:v:0 rotate=90 rotated90_160x96.mp4
rm -f /tmp/fleetprep_unrotated.mp4
oracle rotated90_160x96.mp4

# --- other codecs and containers: MJPEG (full-range yuvj422p) in AVI, MPEG-4 part 2 in MOV -------
"${FF[@]}" -f lavfi -i "smptebars=size=176x144:rate=15:duration=1" -c:v mjpeg -q:v 5 \
    "${BITEXACT[@]}" mjpeg_176x144.avi
oracle mjpeg_176x144.avi
"${FF[@]}" -f lavfi -i "testsrc2=size=176x144:rate=15:duration=1" -c:v mpeg4 -q:v 5 -pix_fmt yuv420p \
    "${BITEXACT[@]}" mpeg4_176x144.mov
oracle mpeg4_176x144.mov

# --- bad files for error tests (not sample clips) ------------------------------------------------
"${FF[@]}" -f lavfi -i "testsrc2=size=320x240:rate=25:duration=2" -c:v libx264 -preset veryfast -crf 30 \
    -g 25 -pix_fmt yuv420p -movflags +faststart "${BITEXACT[@]}" /tmp/fleetprep_whole.mp4
size=$(stat -c %s /tmp/fleetprep_whole.mp4)
head -c $((size * 6 / 10)) /tmp/fleetprep_whole.mp4 > "$bad/truncated.mp4"   # index promises 50 frames
ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 \
    "$bad/truncated.mp4" > "$bad/truncated.frames" 2>/dev/null || true
rm -f /tmp/fleetprep_whole.mp4
: > "$bad/empty.mp4"
printf 'this is a text file, not a video\n' > "$bad/not_video.mp4"
"${FF[@]}" -f lavfi -i "sine=frequency=300:duration=0.5" -c:a aac -b:a 32k "${BITEXACT[@]}" "$bad/audio_only.m4a"
# A Matroska file whose video packets are garbage: the container opens, the decoder cannot decode.
python3 - "$root/SampleClips/vfr_160x120.mkv" "$bad/corrupt_packets.mkv" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
# Overwrite the middle of the file (packet payloads) with a fixed pseudo-random pattern.
start, end = len(data) // 4, len(data) * 3 // 4
x = 12345
for i in range(start, end):
    x = (1103515245 * x + 12345) & 0x7FFFFFFF
    data[i] = x >> 16 & 0xFF
open(sys.argv[2], "wb").write(data)
PY

# An AVI whose video FourCC no decoder knows ('MJPG' -> 'QQQQ'): a video stream without a decoder.
python3 - "$root/SampleClips/mjpeg_176x144.avi" "$bad/unknown_codec.avi" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
assert data.count(b"MJPG") == 2
open(sys.argv[2], "wb").write(data.replace(b"MJPG", b"QQQQ"))
PY

echo "sample clips:"; du -ch -- *.mp4 *.mkv *.avi *.mov "$event"/*.mp4 | tail -1
