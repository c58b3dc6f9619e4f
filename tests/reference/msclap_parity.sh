#!/usr/bin/env bash
# MS-CLAP parity: msclap itself (from PyPI, in its own environment: it pins transformers < 5 and numpy < 2) and
# this project embed the same clips and captions with the same random weights of the real shapes; this project
# must give cosine >= 0.9999 per item, the same tau, C and L. Writes tests/reference/msclap-<version>.npz (small:
# msclap's embeddings and the state dict's key list; the weights regenerate from the seed in msclap_random.py).
#
#   bash tests/reference/msclap_parity.sh            # both versions; MSCLAP_VENV=... to reuse an environment
#
# The environment reuses this project's torch (a .pth path entry placed after its own site-packages), so only
# msclap and its light dependencies download (about 2 minutes); torch==2.11.0 + torchaudio==2.11.0 would also do.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
VENV=${MSCLAP_VENV:-build/msclap-venv}
WORK=${MSCLAP_WORK:-build/msclap-parity}
MSCLAP_VERSION=${MSCLAP_VERSION:-1.3.4}
MAIN_SITE=$($PY -c "import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))")
if [ ! -x "$VENV/bin/python" ]; then
  $PY -m venv "$VENV"
  "$VENV/bin/pip" install -q "numpy<2" "transformers>=4.34,<5" "librosa>=0.10.1,<0.11" "pandas>=2,<3" pyyaml \
    scikit-learn "torchlibrosa>=0.1,<0.2" tqdm soundfile
  "$VENV/bin/pip" install -q --no-deps "msclap==$MSCLAP_VERSION"
fi
SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$MAIN_SITE" > "$SITE/zz_project_torch.pth"   # 'zz': after the environment's own packages on sys.path
mkdir -p "$WORK"
for v in ${VERSIONS:-2023 2022}; do
  $PY tests/reference/msclap_parity.py prepare "$v" "$WORK"
  HF_HUB_OFFLINE=1 "$VENV/bin/python" tests/reference/msclap_reference.py "$v" "$WORK/clips-$v" "$WORK"
  $PY tests/reference/msclap_parity.py check "$v" "$WORK"
  cp "$WORK/msclap-$v.npz" "tests/reference/msclap-$v.npz"
done
