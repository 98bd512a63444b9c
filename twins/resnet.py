"""C6 twin: the fastai book's ResNet-18 from scratch, as the notes write it (seed 001, the last cell
of chapter 4)::

    dls = ImageDataLoaders.from_folder(path)
    learn = cnn_learner(dls, resnet18, pretrained=False, loss_func=F.cross_entropy, metrics=accuracy)
    learn.fit_one_cycle(1, 0.1)

fastai's and torchvision's defaults in plain PyTorch (neither loads here), each from their source:

- ``ImageDataLoaders.from_folder(path)``: MNIST_SAMPLE's own train/valid folders (valid_pct None →
  ``GrandparentSplitter``): 12,396 training and 2,038 validation images, labels by folder with the
  sorted vocab ('3' → 0, '7' → 1); ``PILImage`` opens each as RGB (the grey value in all three
  channels), ``IntToFloatTensor`` divides by 255, and nothing else: no resizing, no augmentation,
  and no ``Normalize``, since ``_add_norm`` returns at once when ``pretrained=False``. Batches of 64;
  the training loader shuffles and drops the last partial batch (193 steps), the validation one
  neither.
- ``cnn_learner(dls, resnet18, pretrained=False)``: torchvision's ``resnet18()`` with its own init
  (convolutions ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, BatchNorm 1 and 0, no
  zero-init of the residual branches), cut before its pooling (``children()[:-2]``: 3 input
  channels, 7×7 stride-2 stem, max pool, four stages of two basic blocks), then fastai's
  ``create_head(1024, 2)``: ``AdaptiveConcatPool2d`` (max, then average), ``Flatten``,
  ``BatchNorm1d(1024)``, ``Dropout(0.25)``, ``Linear(1024, 512, bias=False)``, ``ReLU``,
  ``BatchNorm1d(512)``, ``Dropout(0.5)``, ``Linear(512, 2, bias=False)``; fastai's ``BatchNorm``
  starts its biases at 1e-3, and ``apply_init`` draws the head's linear weights with
  ``kaiming_normal_`` (fan in).
- ``fit_one_cycle(1, 0.1)``: fastai's ``Adam`` (β2 0.99, ε 1e-5 outside the square root, each step
  debiased with the step's own β1) with decoupled weight decay 0.01 (``p *= 1 − lr·wd``) on the
  weights of convolutions and linear layers only (``wd_bn_bias=False``: none on BatchNorm
  parameters or biases); before each batch the learning rate follows a cosine from 0.1/25 up to 0.1
  over the first 25 % of the steps and down to 0.1/1e5, β1 from 0.95 to 0.85 and back (fastai's
  ``combined_cos`` of ``pct_train``, the fraction of steps done).
- ``accuracy``: argmax against the label, averaged over all validation images (``AvgMetric``), in
  eval mode (BatchNorm's running averages, no dropout).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from twins.data import mnist_sample

NUMBERS = {
    "valid accuracy after 1 epoch": {"notes": 0.9951, "ours": "valid/accuracy", "kind": "accuracy"},
}

BATCH_SIZE = 64
LR_MAX = 0.1
NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)  # (fastai's norm_types, those this model has)


# --- torchvision's resnet18, cut before its pooling -------------------------------------------------


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock``: conv3×3-BN-ReLU-conv3×3-BN, plus the input (through a strided
    1×1 convolution and BatchNorm when the shape changes), then ReLU."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def resnet18_body(n_in: int = 3, widths: tuple[int, ...] = (64, 128, 256, 512)) -> nn.Sequential:
    """``create_body(resnet18(), n_in=3, pretrained=False, cut=-2)``: conv1, bn1, relu, maxpool,
    layer1-4 of torchvision's ResNet-18, with torchvision's init. (``widths``: the stages' channels,
    torchvision's by default; narrower only for the reduced step-for-step test.)"""
    layers: list[nn.Module] = [
        nn.Conv2d(n_in, widths[0], 7, 2, padding=3, bias=False),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, padding=1),
    ]
    inplanes = widths[0]
    for i, planes in enumerate(widths):
        stride = 1 if i == 0 else 2
        layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes)))
        inplanes = planes
    body = nn.Sequential(*layers)
    for m in body.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    return body


# --- fastai's head ------------------------------------------------------------------------------


class AdaptiveConcatPool2d(nn.Module):
    """fastai's: the max and the average over each feature map, concatenated (max first)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], 1)


def batch_norm_1d(nf: int) -> nn.BatchNorm1d:
    """fastai's ``BatchNorm(nf, ndim=1)``: weight 1, bias 1e-3."""
    bn = nn.BatchNorm1d(nf)
    with torch.no_grad():
        bn.weight.fill_(1.0)
        bn.bias.fill_(1e-3)
    return bn


def create_head(nf: int, n_out: int, ps: float = 0.5) -> nn.Sequential:
    """fastai's ``create_head(nf, n_out)`` with its defaults (``nf`` already doubled for the concat
    pool): pool, flatten, then ``LinBnDrop(nf, 512, p=ps/2, act=ReLU)``, ``LinBnDrop(512, n_out,
    p=ps)``, each BatchNorm1d → Dropout → Linear without bias."""
    return nn.Sequential(
        AdaptiveConcatPool2d(),
        nn.Flatten(),
        batch_norm_1d(nf),
        nn.Dropout(ps / 2),
        nn.Linear(nf, 512, bias=False),
        nn.ReLU(inplace=True),
        batch_norm_1d(512),
        nn.Dropout(ps),
        nn.Linear(512, n_out, bias=False),
    )


def apply_init(head: nn.Module) -> None:
    """fastai's ``apply_init(model[1], nn.init.kaiming_normal_)``: every module with parameters
    that is not a norm layer gets ``kaiming_normal_`` on its weight and 0 in its bias."""
    for m in head.modules():
        if isinstance(m, NORM_TYPES) or not list(m.parameters(recurse=False)):
            continue
        if hasattr(m, "weight"):
            nn.init.kaiming_normal_(m.weight)
        if getattr(m, "bias", None) is not None:
            with torch.no_grad():
                m.bias.fill_(0.0)


def cnn_model(
    n_out: int = 2, n_in: int = 3, ps: float = 0.5, widths: tuple[int, ...] = (64, 128, 256, 512)
) -> nn.Sequential:
    """``create_cnn_model(resnet18, n_out, pretrained=False)``: ``nn.Sequential(body, head)``
    (``ps``: the head's dropout, fastai's default 0.5)."""
    body = resnet18_body(n_in, widths)
    head = create_head(widths[-1] * 2, n_out, ps)
    apply_init(head)
    return nn.Sequential(body, head)


# --- fastai's Adam and one cycle --------------------------------------------------------------------


def no_decay(model: nn.Module) -> set[int]:
    """The ids of fastai's ``norm_bias_params(model)``: BatchNorm parameters and every bias, which
    ``wd_bn_bias=False`` keeps out of the weight decay."""
    out: set[int] = set()
    for m in model.modules():
        if isinstance(m, NORM_TYPES):
            out.update(id(p) for p in m.parameters(recurse=False))
        elif getattr(m, "bias", None) is not None:
            out.add(id(m.bias))
    return out


class Adam:
    """fastai's ``Adam(params, lr, mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0.01, decouple_wd=True)``:
    its callbacks in order, ``weight_decay``, ``average_grad(dampening=True)``,
    ``average_sqr_grad``, ``step_stat``, ``adam_step``. ``lr`` and ``mom`` are set before each
    batch by the schedule."""

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        mom: float = 0.9,
        sqr_mom: float = 0.99,
        eps: float = 1e-5,
        wd: float = 0.01,
    ):
        skip = no_decay(model)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.do_wd = [id(p) not in skip for p in self.params]
        self.lr, self.mom, self.sqr_mom, self.eps, self.wd = lr, mom, sqr_mom, eps, wd
        self.state: dict[int, dict] = {}

    @torch.no_grad()
    def step(self) -> None:
        for p, do_wd in zip(self.params, self.do_wd, strict=True):
            if p.grad is None:
                continue
            if do_wd and self.wd != 0:
                p.mul_(1 - self.lr * self.wd)
            s = self.state.setdefault(
                id(p), {"grad_avg": torch.zeros_like(p), "sqr_avg": torch.zeros_like(p), "step": 0}
            )
            s["grad_avg"].mul_(self.mom).add_(p.grad, alpha=1 - self.mom)
            s["sqr_avg"].mul_(self.sqr_mom).addcmul_(p.grad, p.grad, value=1 - self.sqr_mom)
            s["step"] += 1
            debias1 = 1 - self.mom ** s["step"]  # fastai's debias(mom, 1 - mom, step)
            debias2 = 1 - self.sqr_mom ** s["step"]
            p.addcdiv_(s["grad_avg"], (s["sqr_avg"] / debias2).sqrt() + self.eps, value=-self.lr / debias1)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def sched_cos(start: float, end: float, pos: float) -> float:
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def combined_cos(pct: float, start: float, middle: float, end: float):
    """fastai's ``combined_cos``: cosine start → middle over the first ``pct`` of training, then
    middle → end."""

    def at(pos: float) -> float:
        if pos < pct:
            return sched_cos(start, middle, pos / pct)
        return sched_cos(middle, end, (pos - pct) / (1 - pct))

    return at


def one_cycle(
    lr_max: float,
    div: float = 25.0,
    div_final: float = 1e5,
    pct_start: float = 0.25,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
):
    """``fit_one_cycle``'s schedules: ``pct_train`` → (lr, mom)."""
    lr = combined_cos(pct_start, lr_max / div, lr_max, lr_max / div_final)
    mom = combined_cos(pct_start, *moms)
    return lambda pos: (lr(pos), mom(pos))


# --- the training loop ----------------------------------------------------------------------------


def train_step(model: nn.Module, opt: Adam, xb: torch.Tensor, yb: torch.Tensor) -> float:
    """fastai's ``one_batch`` with ``loss_func=F.cross_entropy``; the batch's loss."""
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss.item()


def as_fastai(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``twins.data`` arrays (N×784 in [0, 1], 1 for a 3) as fastai's batches: N×3×28×28 (the grey
    value in all three channels, as PIL's ``convert("RGB")``) and labels by the sorted vocab
    ('3' → 0, '7' → 1)."""
    return x.view(-1, 1, 28, 28).expand(-1, 3, -1, -1).contiguous(), (1 - y[:, 0]).long()


def accuracy(model: nn.Module, dl: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for xb, yb in dl:
            correct += (model(xb).argmax(dim=-1) == yb).sum().item()
            total += len(yb)
    return correct / total


def run(seed: int, data_dir: str | None = None, epochs: int = 1) -> dict[str, float]:
    torch.manual_seed(seed)
    (train_x, train_y), (valid_x, valid_y) = mnist_sample(data_dir)
    train = TensorDataset(*as_fastai(train_x, train_y))
    valid = TensorDataset(*as_fastai(valid_x, valid_y))
    dl = DataLoader(
        train, BATCH_SIZE, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(seed)
    )
    valid_dl = DataLoader(valid, BATCH_SIZE)
    model = cnn_model(2)
    opt = Adam(model, LR_MAX)
    schedule = one_cycle(LR_MAX)
    total = epochs * len(dl)
    done = 0
    for _ in range(epochs):
        model.train()
        for xb, yb in dl:
            opt.lr, opt.mom = schedule(done / total)  # ParamScheduler.before_batch(pct_train)
            train_step(model, opt, xb, yb)
            done += 1
    return {"valid accuracy after 1 epoch": accuracy(model, valid_dl)}
