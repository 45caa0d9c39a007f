#!/usr/bin/env bash
# Repair the pose files of a set-up from the command line: fit one model on the recordings
# you have, then repair every file of a new session with it, each next to its report.
#
#   bash examples/pose_folder.sh TRAIN_FOLDER NEW_FOLDER OUT_FOLDER [options for both commands]
#
# e.g. bash examples/pose_folder.sh videos/ new_videos/ repaired/ --confidence-threshold 0.9
# The folders hold DeepLabCut or Lightning Pose CSV/H5 or SLEAP files of the same keypoints.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash $0 TRAIN_FOLDER NEW_FOLDER OUT_FOLDER [options]" >&2
    exit 2
fi
train=$1 new=$2 out=$3
shift 3
mkdir -p "$out"
aeimpute pose fit "$train" -o "$out/setup.aeimpute" "$@"
# options only for fitting are not repeated for the repair
repair_options=()
while [ $# -gt 0 ]; do
    case $1 in
        --window|--max-iter) shift 2 ;;
        *) repair_options+=("$1"); shift ;;
    esac
done
aeimpute pose repair "$out/setup.aeimpute" "$new" -o "$out" "${repair_options[@]}"
echo "reports: $out/*.repair.json"
