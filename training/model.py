"""Weight-sparse GPT after Gao et al. 2025, with the node interface the product uses.

Architecture: pre-norm decoder, RMSNorm, no biases, learned absolute position embeddings
(optional), attention sinks (a learnable per-head logit on a zero key/value slot), a dense
bigram table added to the logits, and AbsTopK activation sparsity at every node location.
Options for OpenAI's released models (GPTConfig: bias, logits_bias, tied_unembed, activation,
topk_sites, afrac None) default to our architecture; with them at their defaults the parameters and
every operation are the ones above.
Parameter names follow openai/circuit_sparsity's GPT (transformer.wte, transformer.h.N.attn.c_attn,
... , lm_head, bigram_table) where the architecture allows.

Nodes. Each block has eight node locations, in this order (the flat node vector's order):
    {l}.attn.act_in [d_model]    residual channels read by attention (after ln_1)
    {l}.attn.q      [n_head*d_head]
    {l}.attn.k      [n_head*d_head]
    {l}.attn.v      [n_head*d_head]
    {l}.attn.resid_delta [d_model]  residual channels written by attention
    {l}.mlp.act_in  [d_model]    residual channels read by the MLP (after ln_2)
    {l}.mlp.post_act [d_mlp]     MLP neurons
    {l}.mlp.resid_delta [d_model]
A forward pass takes an optional flat `node_mask` [N] (1 keep, 0 ablate) and `node_fill` [N]
(the value an ablated node takes: its mean, or 0), applied after AbsTopK at each location, and
can return the activations of any set of nodes (`watch`, flat indices).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

SITES = ("attn.act_in", "attn.q", "attn.k", "attn.v", "attn.resid_delta", "mlp.act_in", "mlp.post_act", "mlp.resid_delta")


@dataclass
class GPTConfig:
    vocab_size: int = 2048
    block_size: int = 256
    n_layer: int = 2
    d_model: int = 128
    n_head: int = 4
    d_head: int = 32
    d_mlp: int = 512
    pos_emb: bool = True
    bigram_table: bool = True
    sink: bool = True
    afrac: float | None = 0.25  # AbsTopK keeps this fraction of each node location (None: no AbsTopK)
    # OpenAI's released models (training/import_openai.py) differ from ours in these; the defaults are ours
    bias: bool = False  # a bias on every Linear but the unembedding
    logits_bias: bool = False  # a constant [V] added to the logits (their `final_logits_bias`)
    tied_unembed: bool = False  # the unembedding is the token embedding matrix
    activation: str = "gelu"  # the MLP's nonlinearity: "gelu" or "relu"
    topk_sites: tuple[str, ...] = SITES  # the node locations AbsTopK applies at

    def to_dict(self) -> dict:
        return asdict(self)


def site_dims(cfg: GPTConfig) -> dict[str, int]:
    hd = cfg.n_head * cfg.d_head
    return {
        "attn.act_in": cfg.d_model,
        "attn.q": hd,
        "attn.k": hd,
        "attn.v": hd,
        "attn.resid_delta": cfg.d_model,
        "mlp.act_in": cfg.d_model,
        "mlp.post_act": cfg.d_mlp,
        "mlp.resid_delta": cfg.d_model,
    }


def node_layout(cfg: GPTConfig) -> list[dict]:
    """[{name: '0.attn.q', offset, length}] in flat node-vector order."""
    layout, offset = [], 0
    dims = site_dims(cfg)
    for layer in range(cfg.n_layer):
        for site in SITES:
            layout.append({"name": f"{layer}.{site}", "offset": offset, "length": dims[site]})
            offset += dims[site]
    return layout


def n_nodes(cfg: GPTConfig) -> int:
    last = node_layout(cfg)[-1]
    return last["offset"] + last["length"]


def k_for(width: int, afrac: float) -> int:
    """How many entries AbsTopK keeps at a node location of this width (at least one)."""
    return max(1, int(width * afrac))


def abs_topk(x: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest-|x| entries of the last dim, zero the rest.

    Formulated as a threshold at the k-th largest |x| (TopK values only, no scatter/gather): this is
    exact except where a nonzero value ties the threshold, and it exports to a much cheaper ONNX graph.
    The k-th largest is found as the largest of the n − k + 1 smallest, unsorted: the same value, but
    onnxruntime's TopK then takes its nth_element path instead of a heap and skips sorting
    (measured 0.45 → 0.30 ms for 232 rows of 128 on 2 cores; PyTorch gains about as much). The mask is
    applied by multiplying with 0/1, not masked_fill: onnxruntime's Where with a broadcast scalar costs
    ~5× a Mul (a 256-token window 11 % faster, outputs bit for bit the same).
    """
    n = x.shape[-1]
    if k >= n:
        return x
    a = x.abs()
    thresh = torch.topk(a, n - k + 1, dim=-1, largest=False, sorted=False).values.amax(-1, keepdim=True)  # [..., 1]
    return x * (a >= thresh).to(x.dtype)


def chunk_edges(n, chunks: int) -> list:
    """[(start, end)] cutting 0..n−1 into `chunks` consecutive runs of near-equal length (empty ones where n <
    chunks); n may be a size traced for ONNX, so the edges follow the window's length at run time."""
    return [(n * i // chunks, n * (i + 1) // chunks) for i in range(chunks)]


class RMSNorm(nn.Module):
    """x · rsqrt(mean(x²) + eps) · weight, written out so that it exports to any ONNX opset
    (same parameter name and default eps as torch.nn.RMSNorm)."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = torch.finfo(torch.float32).eps

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """rsqrt(mean(x²) + eps) [..., 1]"""
        return torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """scale (optional): use this [..., 1] instead of x's own (norms frozen to another run's)."""
        return x * (self.scale(x) if scale is None else scale) * self.weight


class NodeHooks:
    """Per-forward state: the kept fraction of AbsTopK, masks to apply and activations to record by
    node-location name (concatenated in `node_layout` order, so a reordered forward is a KeyError,
    not a silent shift of every node index)."""

    def __init__(self, cfg: GPTConfig, node_mask=None, node_fill=None, record: bool = False, norm_scales: dict | None = None, afrac: float | None = None):
        self.layout = node_layout(cfg)
        self.slices = {e["name"]: (e["offset"], e["offset"] + e["length"]) for e in self.layout}
        self.node_mask, self.record = node_mask, record
        self.afrac = cfg.afrac if afrac is None else afrac
        self.topk_sites = frozenset(cfg.topk_sites)
        # every RMSNorm's scale by name ("0.ln_1", …, "ln_f"): given → used (frozen), absent → recorded here
        self.frozen = norm_scales is not None
        self.norm_scales: dict[str, torch.Tensor] = norm_scales if norm_scales is not None else {}
        # x ← x·mask + fill·(1 − mask); the second term is computed once for all N nodes [N]
        self.fill_term = None if node_mask is None else node_fill * (1 - node_mask)
        self.recorded: dict[str, torch.Tensor] = {}

    def topk(self, x: torch.Tensor, site: str) -> torch.Tensor:
        """AbsTopK over the last dim at the current kept fraction (1 or None = off: everything kept), at
        the node locations (site names such as "attn.q") the model applies it to."""
        if self.afrac is None or site not in self.topk_sites:
            return x
        return abs_topk(x, k_for(x.shape[-1], self.afrac))

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if self.node_mask is not None:
            lo, hi = self.slices[name]
            # [..., lo:hi]: a flat mask [N], or rows of masks [M, 1, N] that broadcast over x [B, T, n]
            x = x * self.node_mask[..., lo:hi] + self.fill_term[..., lo:hi]
        if self.record:
            self.recorded[name] = x
        return x

    def all_recorded(self) -> torch.Tensor:
        """Every location's record, in flat node order → [B, T, N]."""
        return torch.cat([self.recorded[e["name"]] for e in self.layout], dim=-1)

    def norm(self, name: str, ln: RMSNorm, x: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            return ln(x, self.norm_scales[name])
        scale = ln.scale(x)  # gradients flow through the live scale; the record is for freezing only
        self.norm_scales[name] = scale.detach()
        return ln(x, scale)


class CausalSelfAttention(nn.Module):
    # queries computed in this many runs (GPT.chunk_queries): the same outputs, fewer operations at long windows
    # for models of many narrow heads; 1 (ours) keeps the single [B, nh, Q, T] score tensor
    query_chunks = 1
    # set while the exporter traces (training/export.py exported_abs_topk): mix the values with the sink slot's probability
    # against a zero value row instead of slicing the slot off the probabilities — the same sums (the slot adds
    # an exact 0 at the end), without onnxruntime's strided copy of [B, nh, Q, T] probabilities
    sink_in_mix = False

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        hd = cfg.n_head * cfg.d_head
        self.c_attn = nn.Linear(cfg.d_model, 3 * hd, bias=cfg.bias)
        self.c_proj = nn.Linear(hd, cfg.d_model, bias=cfg.bias)
        self.sink_logit = nn.Parameter(torch.zeros(cfg.n_head)) if cfg.sink else None
        # 0 on and below the diagonal, −inf above: added rather than masked_fill'ed, because onnxruntime's
        # Where on [B, nh, Q, T] costs several times an Add (the export stores it as one 256 KB constant)
        causal = torch.tril(torch.ones(cfg.block_size, cfg.block_size, dtype=torch.bool))
        self.register_buffer("causal_bias", torch.zeros(causal.shape).masked_fill(~causal, float("-inf")), persistent=False)

    def forward(self, x: torch.Tensor, hook, layer: int, want_attn: bool = False, queries_from=None):
        """x [B, T, d] → (resid_delta [B, Q, d], probs [B, nh, Q, T] or None) for the Q = T − queries_from
        last positions (all T when queries_from is None): keys and values always cover all T."""
        cfg = self.cfg
        T = x.shape[1]
        hd = cfg.n_head * cfg.d_head
        if queries_from is None:
            q, k, v = self.c_attn(x).split(hd, dim=2)  # each [B, T, nh*dh]
            first = 0
        else:
            w_q, w_kv = self.c_attn.weight.split((hd, 2 * hd))
            b_q, b_kv = (None, None) if self.c_attn.bias is None else self.c_attn.bias.split((hd, 2 * hd))
            q = F.linear(x[:, queries_from:], w_q, b_q)  # [B, Q, nh*dh]
            k, v = F.linear(x, w_kv, b_kv).split(hd, dim=2)  # each [B, T, nh*dh]
            first = queries_from
        Q = q.shape[1]
        # a tail graph (training/tails.py) broadcasts from one batch row to the mask rows at any of q, k, v:
        # the batch is whatever the hooks return, not x's
        q = hook(f"{layer}.attn.q", hook.topk(q, "attn.q"))
        k = hook(f"{layer}.attn.k", hook.topk(k, "attn.k"))
        v = hook(f"{layer}.attn.v", hook.topk(v, "attn.v"))
        q = q.view(q.shape[0], Q, cfg.n_head, cfg.d_head).transpose(1, 2)  # [B, nh, Q, dh]
        k = k.view(k.shape[0], T, cfg.n_head, cfg.d_head).transpose(1, 2)  # [B, nh, T, dh]
        v = v.view(v.shape[0], T, cfg.n_head, cfg.d_head).transpose(1, 2)
        if self.sink_in_mix and self.sink_logit is not None and not want_attn and self.query_chunks == 1:
            probs = self.probs(q, k, first, T, Q, keep_sink=True)  # [B, nh, Q, T+1]
            y = probs @ F.pad(v, (0, 0, 0, 1))  # [B, nh, Q, dh]: the sink slot's value is the zero row
        elif want_attn or self.query_chunks == 1:
            probs = self.probs(q, k, first, T, Q)  # [B, nh, Q, T]
            y = probs @ v  # [B, nh, Q, dh]
        else:
            # each run of queries reads only the keys up to its own last position: the scores left out are
            # the causal mask's −inf (probability exactly 0), and the [nh, Q, T] tensors shrink by up to half
            runs = chunk_edges(Q, self.query_chunks)
            y = torch.cat([self.probs(q[:, :, a:b], k[:, :, : first + b], first + a, first + b, b - a) @ v[:, :, : first + b] for a, b in runs], dim=2)
            probs = None
        y = y.transpose(1, 2).reshape(y.shape[0], Q, hd)  # [B, Q, nh*dh]
        y = hook.topk(self.c_proj(y), "attn.resid_delta")  # [B, Q, d]
        return y, (probs if want_attn else None)

    def probs(self, q: torch.Tensor, k: torch.Tensor, first, end, n_q, keep_sink: bool = False) -> torch.Tensor:
        """Attention probabilities of the n_q = end − first queries at positions first..end−1 over the keys at
        0..end−1: q [B, nh, n_q, dh], k [B, nh, end, dh] → [B, nh, n_q, end] (keep_sink: the sink slot's
        probability last, [B, nh, n_q, end + 1])."""
        cfg = self.cfg
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(cfg.d_head))  # [B, nh, Qc, end]
        att = att + self.causal_bias[first:end, :end]
        if self.sink_logit is None:
            return F.softmax(att, dim=-1)
        # a zero-value key slot with a learned logit lets a head attend to "nothing"
        sink = self.sink_logit.view(1, cfg.n_head, 1, 1).expand(att.shape[0], cfg.n_head, n_q, 1)
        att = torch.cat([att, sink], dim=-1)  # [B, nh, Qc, end+1]
        probs = F.softmax(att, dim=-1)
        return probs if keep_sink else probs[..., :end]


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.c_fc = nn.Linear(cfg.d_model, cfg.d_mlp, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.d_mlp, cfg.d_model, bias=cfg.bias)
        self.act = {"gelu": F.gelu, "relu": F.relu}[cfg.activation]

    def forward(self, x: torch.Tensor, hook, layer: int) -> torch.Tensor:
        h = self.act(self.c_fc(x))  # [B, T, d_mlp]
        h = hook(f"{layer}.mlp.post_act", hook.topk(h, "mlp.post_act"))
        return hook.topk(self.c_proj(h), "mlp.resid_delta")  # [B, T, d]


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.ln_1 = RMSNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = RMSNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x, hook, layer: int, want_attn: bool = False, queries_from=None):
        """x [B, T, d] → x [B, Q, d]: the last Q = T − queries_from positions (all when None)."""
        a_in = hook(f"{layer}.attn.act_in", hook.topk(hook.norm(f"{layer}.ln_1", self.ln_1, x), "attn.act_in"))
        delta, probs = self.attn(a_in, hook, layer, want_attn, queries_from)
        if queries_from is not None:
            x = x[:, queries_from:]
        x = x + hook(f"{layer}.attn.resid_delta", delta)
        m_in = hook(f"{layer}.mlp.act_in", hook.topk(hook.norm(f"{layer}.ln_2", self.ln_2, x), "mlp.act_in"))
        x = x + hook(f"{layer}.mlp.resid_delta", self.mlp(m_in, hook, layer))
        return x, probs


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(cfg.vocab_size, cfg.d_model),
                wpe=nn.Embedding(cfg.block_size, cfg.d_model) if cfg.pos_emb else None,
                h=nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)]),
                ln_f=RMSNorm(cfg.d_model),
            )
        )
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tied_unembed:
            self.lm_head.weight = self.transformer.wte.weight
        self.final_logits_bias = nn.Parameter(torch.zeros(cfg.vocab_size)) if cfg.logits_bias else None
        self.bigram_table = nn.Parameter(torch.zeros(cfg.vocab_size, cfg.vocab_size)) if cfg.bigram_table else None
        # training schedules change these (train.py): AbsTopK's kept fraction, and whether the bigram
        # table is read yet; a trained model has cfg.afrac and its table on
        self.afrac_now = cfg.afrac
        self.bigram_on = True
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

    def chunk_queries(self, chunks: int) -> None:
        """Every layer's attention computes its queries in `chunks` runs (CausalSelfAttention.query_chunks)."""
        for block in self.transformer.h:
            block.attn.query_chunks = chunks

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def sparse_parameters(self) -> dict[str, nn.Parameter]:
        """Every weight matrix under the L0 constraint (embeddings included); norms, sinks and the bigram table stay dense."""
        return {n: p for n, p in self.named_parameters() if p.ndim == 2 and n != "bigram_table"}

    def forward(
        self, idx: torch.Tensor, node_mask=None, node_fill=None, record: bool = False, want_attn: bool = False, positions=None, freeze_norms: bool = False
    ):
        """idx [B, T] → logits [B, T, V]; with record=True also all node activations [B, T, N].

        positions [B] (optional): compute logits only at one position per row → logits [B, V]; the
        unembedding and bigram lookup dominate the cost of short task prompts.
        freeze_norms: every RMSNorm divides by the scale it has in the unablated model on the same
        input (the paper's control: a pruned circuit must not work by rescaling through the norms).
        """
        scales = None
        if freeze_norms:
            with torch.no_grad():
                free = self.hooks()
                self._logits(idx, free, positions, want_attn)
                scales = free.norm_scales
        hook = self.hooks(node_mask, node_fill, record, norm_scales=scales)
        logits, attn_probs = self._logits(idx, hook, positions, want_attn)  # [B, T, V] or [B, V]
        nodes = hook.all_recorded() if record else None  # [B, T, N]
        return logits, nodes, (attn_probs if want_attn else None)

    def hooks(self, node_mask=None, node_fill=None, record: bool = False, norm_scales: dict | None = None) -> NodeHooks:
        """This forward's hooks, at the model's current kept fraction."""
        return NodeHooks(self.cfg, node_mask, node_fill, record, norm_scales, afrac=self.afrac_now)

    def _logits(self, idx, hook: NodeHooks, positions, want_attn: bool):
        x, attn_probs = self.hidden(idx, hook, want_attn)
        if positions is not None:
            rows = torch.arange(idx.shape[0], device=idx.device)
            x, idx = x[rows, positions], idx[rows, positions]  # [B, d], [B]
        return self.head(x, idx, hook=hook), attn_probs

    def hidden(self, idx: torch.Tensor, hook: NodeHooks, want_attn: bool = False, scored_from=None):
        """idx [B, T] → the final residual stream [B, T, d] (and per layer attention probabilities).

        scored_from (optional): only positions scored_from..T−1 are read, so the last layer computes its
        keys and values at every position but everything else only there → [B, T − scored_from, d];
        the last layer's node records then have T rows (act_in, k, v) or T − scored_from rows (the rest).
        """
        T = idx.shape[1]
        x = self.transformer.wte(idx)  # [B, T, d]
        if self.transformer.wpe is not None:
            x = x + self.transformer.wpe(torch.arange(T, device=idx.device))
        attn_probs = []
        last = len(self.transformer.h) - 1
        for layer, block in enumerate(self.transformer.h):
            x, probs = block(x, hook, layer, want_attn, scored_from if layer == last else None)
            attn_probs.append(probs)
        return x, attn_probs

    def head(self, x: torch.Tensor, idx: torch.Tensor, read_ids=None, hook: NodeHooks | None = None) -> torch.Tensor:
        """Residual [..., d] and the tokens at those positions [...] → logits [..., V].

        read_ids [R] (optional): only the logits of these vocabulary entries → [..., R]; the editor
        needs just the few tokens of each task's two classes, not all V.
        """
        w = self.lm_head.weight if read_ids is None else self.lm_head.weight.index_select(0, read_ids)  # [V|R, d]
        ln_f = self.transformer.ln_f
        logits = (ln_f(x) if hook is None else hook.norm("ln_f", ln_f, x)) @ w.t()
        if self.final_logits_bias is not None:
            logits = logits + (self.final_logits_bias if read_ids is None else self.final_logits_bias.index_select(0, read_ids))
        if self.bigram_table is not None and self.bigram_on:
            bigram = self.bigram_table[idx]  # [..., V]
            logits = logits + (bigram if read_ids is None else bigram.index_select(-1, read_ids))
        return logits
