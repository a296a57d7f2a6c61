#!/bin/bash
# Per-run CPU and wall time from each copied run's sweep.log (/usr/bin/time -v output),
# as a Markdown table: bash docs/results/gist/synth/times.sh
cd "$(dirname "$0")"
echo "| run | CPU s (user) | wall (m:ss) | CPU share |"
echo "|---|---:|---:|---:|"
for f in runs/*/sweep.log; do
  u=$(grep 'User time' "$f" | awk '{print $4}')
  w=$(grep 'Elapsed' "$f" | awk '{print $8}')
  p=$(grep 'Percent of CPU' "$f" | awk '{print $7}')
  echo "| $(basename "$(dirname "$f")") | $u | ${w%.*} | $p |"
done
