"""Per-example gradient norms and clipped gradient sums from one batched backward pass.

The weight gradient of a Linear or Conv2d layer for one example is built from two things the batched
pass already has: the layer's input `a` and the loss's gradient `g` with respect to the layer's
output (Opacus's grad samplers use the same identity, through module hooks). So instead of
`vmap(grad)` over examples, which runs a backward pass per example, we run the forward once with a
zero "tap" added to each such layer's output, take the gradient of the summed loss with respect to
the taps (that is `g` for every example at once), and build each layer's per-example gradients:

- Linear, one vector per example: the weight gradient is the outer product g a^T, so its squared norm
  is |g|^2 |a|^2 and it is never materialised; the clipped sum is (f g)^T a for clip factors f.
- Conv2d (and Linear over extra dimensions): the per-example weight gradient is the product of g
  with the input's patches (unfold), small for these layers, from which norm and clipped sum follow.

Models with any other parameterised layer (or grouped or non-zero-padded convolutions) are not
supported here; `supports` says so and callers fall back to `vmap(grad)`.
"""

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad

from aca_bench.algorithms.base import FunctionalModel, Tensors


@dataclass
class _Pass:
    """What the hooks read and write during one tapped forward pass."""

    taps: Tensors | None = None  # added to each layer's output; None: record output shapes only
    inputs: Tensors = field(default_factory=dict)
    shapes: dict[str, torch.Size] = field(default_factory=dict)


def _convolution_supported(conv: nn.Conv2d) -> bool:
    return conv.groups == 1 and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)


class Taps:
    """The Linear and Conv2d layers of one model, with forward hooks that tap them on demand."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.layers: dict[str, nn.Module] = {
            name: m
            for name, m in module.named_modules()
            if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and _convolution_supported(m))
        }
        covered = {
            f"{name}.{p}" if name else p
            for name, m in self.layers.items()
            for p, _ in m.named_parameters(recurse=False)
        }
        self.complete = covered == {name for name, _ in module.named_parameters()}
        self._pass: _Pass | None = None
        self._shapes: dict[tuple, dict[str, torch.Size]] = {}
        for name, m in self.layers.items():
            m.register_forward_hook(self._hook(name))

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
            current = self._pass
            if current is None:
                return None
            current.inputs[name] = args[0]
            if current.taps is None:
                current.shapes[name] = output.shape
                return None
            return output + current.taps[name].to(output.dtype)

        return hook

    @contextmanager
    def tapping(self, current: _Pass) -> Iterator[_Pass]:
        self._pass = current
        try:
            yield current
        finally:
            self._pass = None

    def output_shapes(self, params: Tensors, x: torch.Tensor) -> dict[str, torch.Size]:
        """Each tapped layer's output shape for input shape x.shape (one pass on the meta device)."""
        key = tuple(x.shape)
        if key not in self._shapes:
            meta = {k: torch.empty(v.shape, device="meta", dtype=v.dtype) for k, v in params.items()}
            with self.tapping(_Pass()) as current:
                functional_call(self.module, meta, (torch.empty(x.shape, device="meta", dtype=x.dtype),))
            self._shapes[key] = current.shapes
        return self._shapes[key]


_TAPS: "weakref.WeakKeyDictionary[FunctionalModel, Taps]" = weakref.WeakKeyDictionary()


def taps_of(model: FunctionalModel) -> Taps:
    """The model's Taps, made (and its hooks registered) once per FunctionalModel."""
    if model not in _TAPS:
        _TAPS[model] = Taps(model.module)
    return _TAPS[model]


def supports(model: FunctionalModel) -> bool:
    """Whether every parameter of the model sits in a layer this module handles."""
    return taps_of(model).complete


@dataclass
class _LayerGrads:
    """One layer's per-example squared norms and a function from clip factors to its clipped sums."""

    sq_norm: torch.Tensor
    clipped_sum: Callable[[torch.Tensor], Tensors]


def _linear_vectors(prefix: str, layer: nn.Linear, a: torch.Tensor, g: torch.Tensor) -> _LayerGrads:
    sq_norm = a.pow(2).sum(1) * g.pow(2).sum(1)
    if layer.bias is not None:
        sq_norm = sq_norm + g.pow(2).sum(1)

    def clipped_sum(f: torch.Tensor) -> Tensors:
        fg = g * f[:, None]
        out = {f"{prefix}weight": fg.T @ a}
        if layer.bias is not None:
            out[f"{prefix}bias"] = fg.sum(0)
        return out

    return _LayerGrads(sq_norm, clipped_sum)


def _materialised(
    prefix: str,
    layer: nn.Module,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    order: tuple[int, ...] | None = None,
) -> _LayerGrads:
    """Per-example gradients kept whole: weight [B, *weight shape] (or [B, *shape permuted], and
    `order` the permutation back to the layer's layout), bias [B, out] or None."""
    sq_norm = weight.flatten(1).pow(2).sum(1)
    if bias is not None:
        sq_norm = sq_norm + bias.pow(2).sum(1)

    def clipped_sum(f: torch.Tensor) -> Tensors:
        summed = torch.tensordot(f, weight, dims=1)
        summed = summed.view(layer.weight.shape) if order is None else summed.permute(order)
        out = {f"{prefix}weight": summed}
        if bias is not None:
            out[f"{prefix}bias"] = f @ bias
        return out

    return _LayerGrads(sq_norm, clipped_sum)


def _layer_grads(name: str, layer: nn.Module, a: torch.Tensor, g: torch.Tensor) -> _LayerGrads:
    prefix = f"{name}." if name else ""
    a, g = a.float(), g.float()
    if isinstance(layer, nn.Linear) and a.dim() == 2:
        return _linear_vectors(prefix, layer, a, g)
    if isinstance(layer, nn.Linear):  # extra dimensions between batch and features
        a, g = a.flatten(1, -2), g.flatten(1, -2)
        weight = torch.einsum("bto,bti->boi", g, a)
        return _materialised(prefix, layer, weight, g.sum(1) if layer.bias is not None else None)
    bias = g.flatten(2).sum(2) if layer.bias is not None else None
    return _materialised(prefix, layer, _conv_weight_grads(layer, a, g), bias, order=(0, 3, 1, 2))


def _conv_weight_grads(conv: nn.Conv2d, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """[B, Cout, kh, kw, Cin] per-example weight gradients of a Conv2d with input a and output
    gradient g (input channels last: permute (0, 3, 1, 2) gives the layer's layout).

    The batched product of g [B, Cout, L] with each example's input patches [B, L, kh*kw*Cin]: what
    Opacus does with unfold (im2col). The patches are one strided view of the zero-padded input in
    channels-last order, copied once. Without dilation a patch row (kw x Cin values) is one contiguous
    run, and the view says so: at the MNIST CNN's shapes that copy is 2x faster than one of a view
    with separate kw and Cin dimensions, and 2-3x faster than F.unfold on a CPU.
    """
    b, c_in = a.shape[:2]
    c_out, oh, ow = g.shape[1:]
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = conv.kernel_size, conv.stride, conv.dilation, conv.padding
    x = F.pad(a.permute(0, 2, 3, 1), (0, 0, pw, pw, ph, ph)).contiguous()  # [B, H + 2ph, W + 2pw, Cin]
    s_b, s_h, s_w, _ = x.stride()
    if dw == 1:  # [B, oh, ow, kh, kw * Cin]
        view = x.as_strided((b, oh, ow, kh, kw * c_in), (s_b, sh * s_h, sw * s_w, dh * s_h, 1))
    else:  # [B, oh, ow, kh, kw, Cin]
        view = x.as_strided((b, oh, ow, kh, kw, c_in), (s_b, sh * s_h, sw * s_w, dh * s_h, dw * s_w, 1))
    patches = view.reshape(b, oh * ow, kh * kw * c_in)
    return torch.bmm(g.reshape(b, c_out, oh * ow), patches).view(b, c_out, kh, kw, c_in)


def clip_factors(
    sq_norm: torch.Tensor, mask: torch.Tensor, max_grad_norm: torch.Tensor, clip_eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each example's factor C / (norm + clip_eps), at most 1, zero on empty slots (mask 0); and how
    many real examples had a norm above C."""
    scale = max_grad_norm / (sq_norm.sqrt() + clip_eps)
    return scale.clamp(max=1.0) * mask, ((scale < 1.0).float() * mask).sum()


def clipped_grad_sum(
    model: FunctionalModel,
    params: Tensors,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    max_grad_norm: torch.Tensor,
    clip_eps: float,
) -> tuple[Tensors, torch.Tensor]:
    """Sum over real (mask 1) examples of each example's gradient clipped to L2 norm C (flat clipping,
    factor C / (norm + clip_eps) at most 1), and how many were longer than C. Needs `supports(model)`."""
    taps = taps_of(model)
    shapes = taps.output_shapes(params, x)
    zeros = {name: x.new_zeros(shape, dtype=torch.float32) for name, shape in shapes.items()}

    def summed_loss(tap_values: Tensors) -> tuple[torch.Tensor, Tensors]:
        with taps.tapping(_Pass(taps=tap_values)) as current:
            loss = model.losses(params, x, y).sum()
        return loss, current.inputs

    out_grads, inputs = grad(summed_loss, has_aux=True)(zeros)
    layers = [_layer_grads(name, m, inputs[name], out_grads[name]) for name, m in taps.layers.items()]
    sq_norm = sum(layer.sq_norm for layer in layers)
    factor, clipped = clip_factors(sq_norm, mask, max_grad_norm, clip_eps)
    sums: Tensors = {}
    for layer in layers:
        sums |= layer.clipped_sum(factor)
    return {k: sums[k] for k in params}, clipped
