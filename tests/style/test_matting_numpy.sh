#!/bin/bash
# Cross-check of the matrix-free Matting Laplacian (src/style/matting.c)
# against a dense one built in numpy straight from Levin, Lischinski and
# Weiss's definition: for every 3x3 window k whose centre is at least one
# pixel from the border, with mu_k and Sigma_k the window's colour mean and
# covariance, the 9x9 block
#   delta_ij - (1 + (I_i - mu_k)^T (Sigma_k + eps/9 Id)^-1 (I_j - mu_k)) / 9
# added into M. On random images of odd and even sizes, with eps 1e-7 (the
# paper's), 1e-4 and 1e-2 (down to 3 pixels wide or tall), and on an image with flat regions (singular
# covariances: only eps keeps them invertible), M v must match to 1e-10 of
# max |M v| on the random images, for random v and for v = 1 (where both
# must be ~0). The flat image is ill-conditioned (Sigma + eps/9 Id has a
# condition number near 1e7 where a window straddles two flat colours):
# there double precision itself keeps only ~5 digits (numpy's float64
# product is 2e-5 off an 80-bit reference), so it is compared with an
# 80-bit long-double build of the same definition, to 1e-4. Planted faults
# (numpy's eps doubled, one pixel off by 1e-3) must fail the comparison.
# Skipped (exit 77, visibly) only where /usr/bin/python3 has no numpy.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "SKIP: $PY lacks numpy (apt-get install python3-numpy)"
    exit 77
fi
T="$STYLIZE_TEST_TMP"
rm -rf "$T" && mkdir -p "$T" || exit 1
$PY - "$T" "$STYLIZE_DUMP_MATTING" <<'PYEOF'
import subprocess, sys
import numpy as np
d, tool = sys.argv[1], sys.argv[2]

def inv3(S):
    # adjugate / determinant: works in long double, which np.linalg does not
    C = np.empty_like(S)
    for i in range(3):
        for j in range(3):
            r = [k for k in range(3) if k != j]
            c = [k for k in range(3) if k != i]
            C[i, j] = (-1) ** (i + j) * (S[r[0], c[0]] * S[r[1], c[1]] - S[r[0], c[1]] * S[r[1], c[0]])
    return C / (S[0] @ C[:, 0])

def dense(img, eps, dt=np.float64):
    c, h, w = img.shape
    n = h * w
    I = img.reshape(3, n).T.astype(dt)
    M = np.zeros((n, n), dt)
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            idx = np.array([(y + dy) * w + x + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
            Iw = I[idx]
            mu = Iw.sum(0) / dt(9)
            D = Iw - mu
            S = D.T @ D / dt(9) + dt(eps) / dt(9) * np.eye(3, dtype=dt)
            A = np.linalg.inv(S) if dt == np.float64 else inv3(S)
            M[np.ix_(idx, idx)] += np.eye(9, dtype=dt) - (dt(1) + D @ A @ D.T) / dt(9)
    return M

def ours(img, v, eps):
    h, w = img.shape[1:]
    img.astype(np.float32).tofile(f"{d}/img.f32")
    v.astype(np.float64).tofile(f"{d}/v.f64")
    subprocess.run([tool, d, str(w), str(h), repr(eps), str(v.shape[0])], check=True)
    return np.fromfile(f"{d}/mv.f64", dtype=np.float64).reshape(v.shape)

rng = np.random.default_rng(12)
failures = 0
cases = []
for (h, w) in [(7, 9), (10, 6), (5, 5), (3, 4), (6, 3)]:
    for eps in (1e-7, 1e-4, 1e-2):
        cases.append((rng.random((3, h, w)).astype(np.float32), eps, f"random {w}x{h} eps {eps:g}", np.float64, 1e-10))
flat = np.zeros((3, 8, 8), np.float32)
flat[:, :, :4] = np.array([0.2, 0.5, 0.7], np.float32)[:, None, None]
flat[:, :, 4:] = np.array([0.9, 0.1, 0.3], np.float32)[:, None, None]
cases.append((flat, 1e-7, "two flat regions, eps 1e-7, vs long double", np.longdouble, 1e-4))
for img, eps, name, dt, tol in cases:
    n = img.shape[1] * img.shape[2]
    v = np.concatenate([rng.uniform(-1, 1, (3, n)), np.ones((1, n))])
    M = dense(img, eps, dt)
    ref, got = (v.astype(dt) @ M.T).astype(np.float64), ours(img, v, eps)
    scale = np.abs(ref[:3]).max()
    err = np.abs(got[:3] - ref[:3]).max() / scale
    one = max(np.abs(got[3]).max(), np.abs(ref[3]).max()) / scale
    ok = err <= tol and one <= 1e-9
    print(f"{name}: max |ours - numpy| / max |numpy| = {err:.2e}, |M 1| {one:.1e}"
          + ("" if ok else "  FAIL"))
    failures += not ok
# the comparison can fail: numpy with eps doubled
img, eps = cases[0][0], cases[0][1]
n = img.shape[1] * img.shape[2]
v = rng.uniform(-1, 1, (1, n))
bad = np.abs(ours(img, v, eps) - v @ dense(img.astype(np.float64), 2 * eps).T).max() / np.abs(v @ dense(img.astype(np.float64), eps).T).max()
wrong_image = img.copy(); wrong_image[0, 3, 4] += 1e-3
bad2 = np.abs(ours(img, v, eps) - v @ dense(wrong_image.astype(np.float64), eps).T).max()
print(f"planted faults: eps doubled -> {bad:.2e}, one pixel off by 1e-3 -> {bad2:.2e} (must exceed 1e-10)")
if not (bad > 1e-10 and bad2 > 1e-10):
    failures += 1
sys.exit(1 if failures else 0)
PYEOF
