#!/usr/bin/env bash
# The editor benchmark: in the real VS Code (code-server + Chromium, as the integration tests run it), the
# time from opening a 5,000-line file at a line to its first screen of highlights, at nine places
# (test/editorBench/firstPaint.test.ts). Prints each place's times and their median over the rounds,
# also less VS Code's own opening of the editor (the time before the extension hears of it);
# a screenshot of each place's first round lands in .vscode-test/screenshots/.
#
#   bash scripts/bench-editor.sh [--bundle DIR] [--circuits TASK,…] [--rounds N] [--lines L,…]
#   bash scripts/bench-editor.sh --yolo1-fixture DIR [--rounds N]
#
# --bundle: a model bundle (default: the shipped one); --circuits: turn on the highlights of these tasks
# (a circuit that does not carry its task is off by default); --lines: 0-based lines to open the file at.
# --yolo1-fixture DIR: the yolo1-shaped fixture of issue 18 (random weights at csp_yolo1's shape, 1/256
# dense, 8 AbsTopK sites, its bracket circuit turned on), written into DIR by training/openai_format.py
# and training/import_openai.py the first time (about 3 minutes; needs .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle='' circuits='' rounds=2 lines='' yolo=''
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$(realpath "$2"); shift 2 ;;
    --circuits) circuits=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    --yolo1-fixture) yolo=$(realpath -m "$2"); shift 2 ;;
    *) echo "bench-editor: unknown option $1 (see the head of $0)" >&2; exit 2 ;;
  esac
done
if [ -n "$yolo" ]; then
  if [ ! -f "$yolo/bundle/manifest.json" ]; then
    echo "bench-editor: writing the yolo1-shaped fixture into $yolo (about 3 minutes)"
    .venv/bin/python -m training.openai_format --out "$yolo/source" --only yolo1_shape
    # node means over the bench file's first 20 KB (the validation corpus is not in git)
    .venv/bin/python -c 'import json, sys; print(json.dumps({"path": "stdlib-5000.py", "text": open("bench/stdlib-5000.py").read()[:20000]}))' > "$yolo/source/val.jsonl"
    .venv/bin/python -m training.import_openai --model "$yolo/source/yolo1_shape" --tokenizer "$yolo/source/tokenizer_2048" --out "$yolo/bundle" \
      --viz "$yolo/source/viz/yolo1_shape/bracket_counting_beeg/prune_v4/k_optim/viz_data.pt" --val-corpus "$yolo/source/val.jsonl" --mean-windows 1
  fi
  bundle="$yolo/bundle" circuits=${circuits:-bracket_counting_beeg}
fi
mkdir -p .vscode-test
exec 9>.vscode-test/.lock  # one run at a time per checkout, shared with the integration tests
flock -n 9 || { echo "another test run holds .vscode-test/.lock; waiting for it"; flock 9; }
npm run --silent build:test-hooks
npx tsc -p .
eval "$(bash scripts/setup-vscode-test-env.sh)"
export VSCODE_TEST_NODE VSCODE_TEST_CODE_SERVER
result=$(realpath .vscode-test)/bench-editor.json
rm -f "$result"
settings=$(node -e 'console.log(JSON.stringify(Object.fromEntries(Object.entries({BENCH_EDITOR_BUNDLE: process.argv[1], BENCH_EDITOR_CIRCUITS: process.argv[2], BENCH_EDITOR_ROUNDS: process.argv[3], BENCH_EDITOR_LINES: process.argv[4], BENCH_EDITOR_OUT: process.argv[5]}).filter(([, v]) => v))))' \
  "$bundle" "$circuits" "$rounds" "$lines" "$result")
node scripts/run-vscode-tests.js --out .vscode-test/bench-editor --extensionTestsPath out/test/editorBench/index.js --timeout 3600000 --env "$settings" \
  | grep -E '^\[browser:log\] bench-editor:|^\[driver\] finished|^integration:' || true
node - "$result" <<'JS'
const fs = require('fs');
const file = process.argv[2];
if (!fs.existsSync(file)) { console.error(`bench-editor: no results (${file}): the run failed; scripts/test-integration.sh shows VS Code's output`); process.exit(1); }
const { model, cpus, places } = JSON.parse(fs.readFileSync(file, 'utf8'));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const lines = [...new Set(places.map((p) => p.line))];
console.log(`\nfirst paint after opening bench/stdlib-5000.py at a line, ${model}, ${cpus} CPUs (seconds; editor: until VS Code showed it)`);
// "after the editor": the first paint less VS Code's own opening of the editor (the extension hears of
// the editor when showTextDocument resolves, and its analysis starts then: docs/BENCHMARKS.md, session 32)
const after = (p) => p.firstPaintMs - p.editorMs;
console.log('| place (0-based line) | first paint, each round | median | editor, median | after the editor, median |\n|---|---|---|---|---|');
for (const line of lines) {
  const at = places.filter((p) => p.line === line);
  const s = (ms) => (ms / 1000).toFixed(2);
  console.log(`| ${line} | ${at.map((p) => s(p.firstPaintMs)).join(', ')} | ${s(median(at.map((p) => p.firstPaintMs)))} | ${s(median(at.map((p) => p.editorMs)))} | ${s(median(at.map(after)))} |`);
}
const under = (ms) => places.filter((p) => ms(p) < 1000).length;
const medians = (ms) => lines.map((line) => median(places.filter((p) => p.line === line).map(ms))).filter((m) => m < 1000).length;
console.log(`\nmedians under 1 s at ${medians((p) => p.firstPaintMs)} of ${lines.length} places; every run under 1 s: ${under((p) => p.firstPaintMs)} of ${places.length}`);
console.log(`after the editor: medians under 1 s at ${medians(after)} of ${lines.length} places; runs under 1 s: ${under(after)} of ${places.length}`);
JS
