#!/usr/bin/env bash
# Regenerates Tests/Fixtures/kernels/: raw source frames plus the ffmpeg CLI's own rgb24 / gray
# conversion of each, the independent oracle FleetKernelsTests compare FrameTransformer against.
#
# For each case:
#   NAME.src.raw     one raw frame in the case's source pixel format (-f rawvideo)
#   NAME.oracle.raw  ffmpeg's crop + scale + colour conversion of that raw frame (rgb24 or gray),
#                    with matrix, range, filter and full_chroma_int set explicitly
# and cases.json lists, one object per case: name, format, width, height, matrix, range, crop
# ("X,Y,W,H" in the CropSpec syntax or null), outWidth, outHeight, filter, channels, minPSNR.
#
# Usage: SampleClips/make-kernel-oracles.sh   (needs the ffmpeg CLI, 5.1 or newer). Deterministic.
set -euo pipefail
cd "$(dirname "$0")"
out=../Tests/Fixtures/kernels
rm -rf "$out"
mkdir -p "$out"
echo "*.raw binary" > "$out/.gitattributes"   # raw frames: never diff or convert line endings
FF=(ffmpeg -hide_banner -loglevel error -y)
cases=()

# src NAME CLIP PIXFMT [VF]: first frame of CLIP as raw PIXFMT (optionally through filter VF).
src() {
    local name=$1 clip=$2 fmt=$3 vf=${4:-null}
    "${FF[@]}" -i "$clip" -frames:v 1 -vf "$vf" -f rawvideo -pix_fmt "$fmt" "$out/$name.src.raw"
}

# oracle CASE SRCNAME FMT W H MATRIX RANGE CROP OW OH FILTER CHANNELS MINPSNR
#   CROP is "X,Y,W,H" in pixels, or "-" for none. CHANNELS is rgb (rgb24 oracle) or gray.
oracle() {
    local case=$1 name=$2 fmt=$3 w=$4 h=$5 matrix=$6 range=$7 crop=$8 ow=$9 oh=${10} filter=${11} ch=${12} psnr=${13}
    local vf="" cropvf="" cropjson=null cw="" chh="" ffrange=tv ffmt=rgb24
    [ "$range" = full ] && ffrange=pc
    [ "$ch" = gray ] && ffmt=gray
    if [ "$crop" != - ]; then
        IFS=, read -r cx cy cw chh <<< "$crop"
        cropvf="crop=w=$cw:h=$chh:x=$cx:y=$cy:exact=1,"
        cropjson="\"$crop\""
    fi
    # Without resize, FleetKernels replicates subsampled chroma (nearest sample), as swscale's
    # same-size converters do (the ffmpeg CLI's and PyAV's default rgb24 conversion); swscale's
    # `neighbor` flag selects the same at 1:1. With resize, both filter with centred siting.
    flags=$filter
    if [ "$ow" = "${cw:-$w}" ] && [ "$oh" = "${chh:-$h}" ]; then flags=neighbor; fi
    vf="${vf}scale=w=$ow:h=$oh:flags=$flags+accurate_rnd+full_chroma_int"
    vf="$vf:in_color_matrix=$matrix:in_range=$ffrange:out_range=pc"
    vf="$vf,format=$ffmt"
    vf="$cropvf$vf"
    "${FF[@]}" -f rawvideo -pix_fmt "$fmt" -s "${w}x${h}" -i "$out/$name.src.raw" -vf "$vf" \
        -frames:v 1 -f rawvideo -pix_fmt "$ffmt" "$out/$case.oracle.raw"
    cases+=("{\"name\":\"$case\",\"source\":\"$name.src.raw\",\"format\":\"$fmt\",\"width\":$w,\"height\":$h,\"matrix\":\"$matrix\",\"range\":\"$range\",\"crop\":$cropjson,\"outWidth\":$ow,\"outHeight\":$oh,\"filter\":\"$filter\",\"channels\":\"$ch\",\"minPSNR\":$psnr}")
}

main=event_0001/main.mp4
# yuv420p 160x120 (8-bit, limited): both matrices, no resize; bilinear and area downscale; crop.
src main420 $main yuv420p
oracle main420_bt601 main420 yuv420p 160 120 bt601 limited - 160 120 bilinear rgb 40
oracle main420_bt709 main420 yuv420p 160 120 bt709 limited - 160 120 bilinear rgb 40
oracle main420_area_96x72 main420 yuv420p 160 120 bt601 limited - 96 72 area rgb 35
oracle main420_bilinear_96x72 main420 yuv420p 160 120 bt709 limited - 96 72 bilinear rgb 35
oracle main420_crop_up main420 yuv420p 160 120 bt601 limited 40,30,64,48 128 96 bilinear rgb 35
oracle main420_gray main420 yuv420p 160 120 bt601 limited - 160 120 bilinear gray 40
# yuvj420p (full range by format).
src mainj420 $main yuvj420p "scale=out_range=pc"
oracle mainj420_bt601_full mainj420 yuvj420p 160 120 bt601 full - 160 120 bilinear rgb 40
oracle mainj420_area_80x60 mainj420 yuvj420p 160 120 bt709 full - 80 60 area rgb 35
# nv12, yuv444p, gray from the same clip. swscale treats gray as full range whatever in_range says
# (gray -> gray is a copy), so the gray-source cases are full range.
src main_nv12 $main nv12
oracle nv12_bt709 main_nv12 nv12 160 120 bt709 limited - 160 120 bilinear rgb 40
oracle nv12_bilinear_112x84 main_nv12 nv12 160 120 bt601 limited - 112 84 bilinear rgb 35
src main444 $main yuv444p
oracle yuv444p_bt709_full main444 yuv444p 160 120 bt709 full - 160 120 bilinear rgb 40
oracle yuv444p_area_64x48 main444 yuv444p 160 120 bt601 limited - 64 48 area rgb 35
src maingray $main gray
oracle gray_to_gray maingray gray 160 120 bt601 full - 160 120 bilinear gray 40
oracle gray_area_80x60 maingray gray 160 120 bt601 full - 80 60 area gray 35
# gbrp (planar RGB in FFmpeg's G, B, R plane order): no matrix or range applies (the case's
# matrix/range are ignored by both sides); same size is a reordering, resizes filter each colour.
src maingbrp $main gbrp
oracle gbrp_copy maingbrp gbrp 160 120 bt709 full - 160 120 bilinear rgb 40
oracle gbrp_area_80x60 maingbrp gbrp 160 120 bt601 full - 80 60 area rgb 35
oracle gbrp_crop_bilinear maingbrp gbrp 160 120 bt601 full 8,6,128,96 96 72 bilinear rgb 35
# yuv422p at an odd size (321x241: chroma planes are 161 wide).
src odd422 odd_321x241.mkv yuv422p
oracle odd422_bt601 odd422 yuv422p 321 241 bt601 limited 0,0,320,240 160 120 bilinear rgb 35
oracle odd422_area_crop odd422 yuv422p 321 241 bt709 limited 64,40,192,160 96 80 area rgb 35
# 10-bit: a 160x120 crop without resize, and a whole-frame downscale.
src hevc10 hevc10_320x240.mkv yuv420p10le
oracle hevc10_crop hevc10 yuv420p10le 320 240 bt709 limited 80,60,160,120 160 120 bilinear rgb 40
oracle hevc10_area_160x120 hevc10 yuv420p10le 320 240 bt601 limited - 160 120 area rgb 35
# 1280x960 clip: a 320x240 region exported as the source, then crop + scale to a small output.
src big_region h264_1280x960.mp4 yuv420p "crop=w=320:h=240:x=480:y=360"
oracle big_bilinear big_region yuv420p 320 240 bt709 limited 16,8,288,224 144 112 bilinear rgb 35
oracle big_area big_region yuv420p 320 240 bt601 limited - 128 96 area rgb 35

{
    echo "["
    n=${#cases[@]}
    for i in "${!cases[@]}"; do
        sep=,; [ "$i" -eq $((n - 1)) ] && sep=
        echo "  ${cases[$i]}$sep"
    done
    echo "]"
} > "$out/cases.json"
du -sh "$out"
