"""The batch as points on the unit sphere: a 2-D map of the 2N embeddings, the modality gap, and the
pulls and pushes the loss puts on each embedding.

    map          PCA of the 2N stacked unit embeddings [Ê_t; Ê_a] (2N, d) → (2N, 2), with a fixed sign
                 convention (see :func:`pca_2d`), so the same batch gives the same picture run after run
                 and a small change does not mirror it.
    gap          ‖mean(Ê_t) − mean(Ê_a)‖, the distance between the caption and clip centroids (Liang et
                 al. 2022, "Mind the Gap").
    forces       −∂L/∂ê (clap_core.contrastive.embedding_gradient) projected onto the sphere's tangent at
                 ê: the direction gradient descent moves a normalised embedding. For caption i,
                 −∂L/∂ê_t,i = Σ_j −τ·G_ij·ê_a,j: a pull towards its clip (G_ii < 0) and a push away from
                 each other clip j of weight τ·G_ij = τ·(P_text[i,j] + P_audio[i,j])/(2N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contrastive import ContrastiveResult, embedding_gradient, l2_normalise

CAPTION, CLIP = "caption", "clip"


@dataclass(frozen=True)
class Projection2D:
    """A linear map ℝᵈ → ℝ² onto the first two principal axes of a point cloud."""

    mean: np.ndarray  # (d,) the cloud's centre
    axes: np.ndarray  # (2, d) orthonormal principal axes, signs fixed
    variance: np.ndarray  # (2,) the cloud's variance along each axis
    total_variance: float  # the cloud's total variance (trace of its covariance)

    @property
    def share(self) -> np.ndarray:
        """(2,) the share of the total variance each axis keeps (zeros for a cloud with no spread)."""
        return self.variance / self.total_variance if self.total_variance > 0 else np.zeros(2)

    @property
    def kept(self) -> float:
        """The share of the total variance the map keeps (both axes)."""
        return float(self.share.sum())

    def points(self, X: np.ndarray) -> np.ndarray:
        """(M, d) points → (M, 2) map coordinates."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.axes.T

    def directions(self, V: np.ndarray) -> np.ndarray:
        """(M, d) vectors (arrows) → (M, 2) arrows in the map (no centring: a direction, not a point)."""
        return np.asarray(V, dtype=np.float64) @ self.axes.T


def pca_2d(X: np.ndarray, toward: np.ndarray | None = None) -> Projection2D:
    """The first two principal axes of the rows of X (M, d), by SVD of the centred cloud (float64).

    Sign convention: each axis is turned so that its largest-magnitude coordinate is positive, except
    that with ``toward`` (d,) the first axis points along it (positive dot product) when the two are not
    orthogonal. A fixed rule of the axes alone: reruns, and a reordering of the points, give the same map.
    Fewer than two dimensions of spread (M ≤ 2, d = 1) leave the second axis with variance 0."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"need an (M, d) array of points, got shape {X.shape}")
    m, d = X.shape
    mean = X.mean(axis=0)
    centred = X - mean  # (M, d)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)  # vt: (min(M, d), d)
    axes = np.zeros((2, d))
    variance = np.zeros(2)
    k = min(2, vt.shape[0])
    axes[:k] = vt[:k]
    variance[:k] = s[:k] ** 2 / m
    if k < 2 and d >= 2:  # one point cloud direction only: any unit vector orthogonal to the first
        e = np.eye(d)[int(np.argmin(np.abs(axes[0])))]
        axes[1] = l2_normalise(e - (e @ axes[0]) * axes[0])
    for a in range(2):
        largest = axes[a, int(np.argmax(np.abs(axes[a])))]
        sign = np.sign(largest) or 1.0
        if a == 0 and toward is not None:
            dot = float(axes[0] @ np.asarray(toward, dtype=np.float64))
            if abs(dot) > 1e-12:
                sign = np.sign(dot)
        axes[a] *= sign
    return Projection2D(mean=mean, axes=axes, variance=variance, total_variance=float((centred**2).sum() / m))


def tangent(at: np.ndarray, v: np.ndarray) -> np.ndarray:
    """v (M, d) projected onto the tangent space of the unit sphere at the rows of ``at`` (M, d):
    v − (v·â)â, the part of v that moves â along the sphere (the rest only changes its length)."""
    a_hat = l2_normalise(at)
    v = np.asarray(v, dtype=np.float64)
    return v - (v * a_hat).sum(axis=-1, keepdims=True) * a_hat


def modality_gap(text_emb: np.ndarray, audio_emb: np.ndarray) -> float:
    """‖mean(Ê_t) − mean(Ê_a)‖ of (N, d) text and audio embeddings (normalised here): 0 when the two
    modalities share a centre, up to 2."""
    return float(np.linalg.norm(l2_normalise(text_emb).mean(axis=0) - l2_normalise(audio_emb).mean(axis=0)))


@dataclass(frozen=True)
class EmbeddingMap:
    """The batch's 2N unit embeddings in a 2-D map, with their centroids and the loss's force on each."""

    projection: Projection2D
    text_xy: np.ndarray  # (N, 2) captions
    audio_xy: np.ndarray  # (N, 2) clips
    text_force_xy: np.ndarray  # (N, 2) −∂L/∂ê_t, tangent part, in the map
    audio_force_xy: np.ndarray  # (N, 2) −∂L/∂ê_a, tangent part, in the map
    text_centroid_xy: np.ndarray  # (2,)
    audio_centroid_xy: np.ndarray  # (2,)
    gap: float  # ‖mean(Ê_t) − mean(Ê_a)‖ in ℝᵈ

    @property
    def gap_in_map(self) -> float:
        """The distance between the two centroids in the map (≤ gap: a projection only shortens)."""
        return float(np.linalg.norm(self.audio_centroid_xy - self.text_centroid_xy))


def embedding_map(text_emb: np.ndarray, audio_emb: np.ndarray, res: ContrastiveResult) -> EmbeddingMap:
    """The map of a batch: text (N, d) and audio (N, d) embeddings and their loss terms ``res``. The first
    axis points from the caption centroid towards the clip centroid (captions left, clips right)."""
    t_hat, a_hat = l2_normalise(text_emb), l2_normalise(audio_emb)
    n = t_hat.shape[0]
    stacked = np.vstack([t_hat, a_hat])  # (2N, d): captions then clips
    proj = pca_2d(stacked, toward=a_hat.mean(axis=0) - t_hat.mean(axis=0))
    xy = proj.points(stacked)
    grad = embedding_gradient(t_hat, a_hat, res)
    return EmbeddingMap(
        projection=proj, text_xy=xy[:n], audio_xy=xy[n:],
        text_force_xy=proj.directions(tangent(t_hat, -grad.d_text)),
        audio_force_xy=proj.directions(tangent(a_hat, -grad.d_audio)),
        text_centroid_xy=xy[:n].mean(axis=0), audio_centroid_xy=xy[n:].mean(axis=0),
        gap=modality_gap(t_hat, a_hat),
    )


@dataclass(frozen=True)
class Force:
    """One term of −∂L/∂ê on an item: from one item of the other modality (its partner or a negative)."""

    other: int  # the other item's index (a clip for a caption, a caption for a clip)
    weight: float  # τ·|G|: the term is weight × (the other's unit embedding), towards it (pull) or away (push)
    p_text: float  # the P_text entry in G (caption row, clip column)
    p_audio: float  # the P_audio entry in G
    vector: np.ndarray  # (d,) the term, projected onto the tangent at the item
    xy: np.ndarray  # (2,) the same in the map


@dataclass(frozen=True)
class ItemForces:
    """The pull towards an item's partner and the pushes from its heaviest negatives."""

    kind: str  # "caption" or "clip"
    index: int
    pull: Force
    pushes: tuple[Force, ...]  # the k heaviest negatives, heaviest first
    total: np.ndarray  # (d,) the whole −∂L/∂ê, tangent part (pull + every push)
    total_xy: np.ndarray  # (2,)


def item_forces(kind: str, index: int, text_emb: np.ndarray, audio_emb: np.ndarray, res: ContrastiveResult,
                projection: Projection2D, k: int = 3) -> ItemForces:
    """Caption ``index`` (kind "caption") or clip ``index`` ("clip"): its pull and its k heaviest pushes.

    G_ij = (P_text[i,j] + P_audio[i,j] − 2δ_ij)/(2N); caption i's force is Σ_j −τ·G_ij·ê_a,j, clip j's
    Σ_i −τ·G_ij·ê_t,i. The pull's weight is τ·(2 − P_text[i,i] − P_audio[i,i])/(2N), a push's τ·G_ij."""
    if kind not in (CAPTION, CLIP):
        raise ValueError(f"kind must be {CAPTION!r} or {CLIP!r}, got {kind!r}")
    n = res.n
    if not 0 <= index < n:
        raise ValueError(f"index {index} is outside the batch of {n}")
    t_hat, a_hat = l2_normalise(text_emb), l2_normalise(audio_emb)
    if kind == CAPTION:
        me, others = t_hat[index], a_hat  # the partners' and negatives' embeddings: clips
        g, pt, pa = res.grad_C[index], res.P_text[index], res.P_audio[index]  # (N,) along row i
    else:
        me, others = a_hat[index], t_hat
        g, pt, pa = res.grad_C[:, index], res.P_text[:, index], res.P_audio[:, index]  # (N,) down column j
    terms = tangent(np.broadcast_to(me, others.shape), -res.tau * g[:, None] * others)  # (N, d)

    def force(j: int) -> Force:
        return Force(other=j, weight=float(res.tau * abs(g[j])), p_text=float(pt[j]), p_audio=float(pa[j]),
                     vector=terms[j], xy=projection.directions(terms[j][None])[0])

    negatives = [j for j in np.argsort(-g, kind="stable") if j != index][:k]
    total = terms.sum(axis=0)
    return ItemForces(kind=kind, index=index, pull=force(index), pushes=tuple(force(int(j)) for j in negatives),
                      total=total, total_xy=projection.directions(total[None])[0])


def log_map(at: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(M, d) unit vectors X seen from the unit vector ``at`` (d,) on the sphere's tangent plane there: the vector of
    length θ = arccos(at·x) (the great-circle distance) pointing along the geodesic from ``at`` to x. Directions in this
    plane are true: the tangent part of any force towards x points at log_at(x)."""
    at, X = np.asarray(at, dtype=np.float64), np.asarray(X, dtype=np.float64)
    cos = np.clip(X @ at, -1.0, 1.0)  # (M,)
    along = X - cos[:, None] * at  # (M, d) the tangent part of x
    norm = np.linalg.norm(along, axis=1)
    scale = np.divide(np.arccos(cos), norm, out=np.zeros_like(norm), where=norm > 1e-15)
    return along * scale[:, None]


@dataclass(frozen=True)
class TangentView:
    """One item's neighbourhood on the plane of its pull and its heaviest push, in the tangent space at the item:
    the other modality's items by their log map (distance = angle, direction = the geodesic's), and the forces."""

    others_xy: np.ndarray  # (N, 2) log map of every item of the other modality, projected on the plane
    off_plane: np.ndarray  # (N,) the length of each log-map vector that the plane does not show
    pull_xy: np.ndarray  # (2,) the pull; points at the partner (others_xy[index])
    pushes_xy: np.ndarray  # (k, 2) the pushes, heaviest first; the first points away from its negative
    total_xy: np.ndarray  # (2,) the whole −∂L/∂ê, tangent part, projected on the plane
    axes: np.ndarray  # (2, d) orthonormal: the pull's direction, then the heaviest push's part across it


def tangent_view(f: ItemForces, text_emb: np.ndarray, audio_emb: np.ndarray) -> TangentView:
    """:class:`TangentView` of an item's forces: axis 1 along its pull (towards its partner), axis 2 the heaviest
    push's component across the pull (so that push, its negative and the partner are drawn without distortion)."""
    t_hat, a_hat = l2_normalise(text_emb), l2_normalise(audio_emb)
    me, others = (t_hat[f.index], a_hat) if f.kind == CAPTION else (a_hat[f.index], t_hat)
    logs = log_map(me, others)  # (N, d)
    first = f.pull.vector if np.linalg.norm(f.pull.vector) > 1e-15 else logs[f.index]
    e1 = first / max(np.linalg.norm(first), 1e-300)
    second = f.pushes[0].vector if f.pushes else np.zeros_like(e1)
    second = second - (second @ e1) * e1
    if np.linalg.norm(second) < 1e-12:  # no push, or one along the pull: any direction across it
        trial = np.eye(len(e1))[int(np.argmin(np.abs(e1)))]
        second = tangent(me[None], (trial - (trial @ e1) * e1)[None])[0]
    e2 = second / np.linalg.norm(second)
    axes = np.stack([e1, e2])
    xy = logs @ axes.T
    off = np.linalg.norm(logs - xy @ axes, axis=1)  # the part of each log-map vector outside the plane
    pushes = np.array([p.vector @ axes.T for p in f.pushes]).reshape(-1, 2)
    return TangentView(others_xy=xy, off_plane=off, pull_xy=f.pull.vector @ axes.T, pushes_xy=pushes,
                       total_xy=f.total @ axes.T, axes=axes)
