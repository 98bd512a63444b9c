"""B11 twin: the homework Q1-1 of lab 09-4 (seed 002) as its comments direct it, filled in with the
code of the lab it points to (deeplearningzerotoall's lab-10-6 ``mnist_batchnorm``): MNIST through
``ToTensor``, ``DataLoader(batch_size=100, shuffle=True, drop_last=True)`` for training and
``shuffle=False`` for the test set; three layers 784-100-100-10, ``torch.nn.Sequential(linear,
BatchNorm1d, ReLU, Dropout(p=0.3))`` for each hidden layer, ``xavier_uniform_`` on every weight
(biases keep PyTorch's default); ``CrossEntropyLoss``; Adam at the homework's ``learning_rate = 0.1``
(and the lab's own 0.01); 15 epochs, ``model.train()`` before each, ``avg_cost += bn_loss /
train_total_batch``; then ``model.eval()`` and the accuracy over the test loader. The net without
BatchNorm trains beside it on the same batches, as the lab trains ``bn_model`` and ``nn_model``.

The homework's get-one-and-predict feeds ``mnist_test.test_data`` unscaled (0-255); the accuracy
here is the lab's, over the test loader (/255), which is what jaxnets reports for B11."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from twins.data import image_datasets

LRS = (0.1, 0.01)  # the homework's learning_rate, then the lab's

NUMBERS = {
    **{
        f"test accuracy, {net}, lr {lr:g}": {
            "notes": None,
            "ours": f"test/{net}, lr {lr:g}/accuracy",
            "kind": "accuracy",
        }
        for lr in LRS
        for net in ("BN", "no BN")
    },
    **{
        f"train cost of the last epoch, {net}, lr {lr:g}": {
            "notes": None,
            "ours": f"last_epoch_train_cost/{net}, lr {lr:g}",
            "kind": "cost",
        }
        for lr in LRS
        for net in ("BN", "no BN")
    },
}

# 파라미터 설정 (learning rate, training epochs, batch_size)
learning_rate = 0.1
training_epochs = 15
batch_size = 100
drop_prob = 0.3


def make_model(hidden=(100, 100), batch_norm: bool = True, p: float = drop_prob) -> torch.nn.Sequential:
    """The homework's layers: Linear → [BatchNorm1d] → ReLU → Dropout(p) twice, then Linear; Xavier
    weights. (``p`` = 0 is the step-for-step test's dropout-free net.)"""
    linear1 = torch.nn.Linear(784, hidden[0], bias=True)
    linear2 = torch.nn.Linear(hidden[0], hidden[1], bias=True)
    linear3 = torch.nn.Linear(hidden[1], 10, bias=True)
    relu = torch.nn.ReLU()
    dropout = torch.nn.Dropout(p=p)
    # xavier initialization
    torch.nn.init.xavier_uniform_(linear1.weight)
    torch.nn.init.xavier_uniform_(linear2.weight)
    torch.nn.init.xavier_uniform_(linear3.weight)
    if not batch_norm:
        return torch.nn.Sequential(linear1, relu, dropout, linear2, relu, dropout, linear3)
    bn1 = torch.nn.BatchNorm1d(hidden[0])
    bn2 = torch.nn.BatchNorm1d(hidden[1])
    return torch.nn.Sequential(linear1, bn1, relu, dropout, linear2, bn2, relu, dropout, linear3)


def train_step(model, optimizer, criterion, X, Y) -> float:
    """The body of the homework's ``for X, Y in train_loader`` loop; the batch's loss."""
    X = X.view(-1, 28 * 28)
    optimizer.zero_grad()
    prediction = model(X)
    loss = criterion(prediction, Y)
    loss.backward()
    optimizer.step()
    return loss.item()


def evaluate(model, test_loader) -> float:
    """``model.eval()`` and the mean of the test batches' accuracies (the lab's; equal batches)."""
    with torch.no_grad():
        model.eval()
        acc = 0
        for X, Y in test_loader:
            X = X.view(-1, 28 * 28)
            correct_prediction = torch.argmax(model(X), 1) == Y
            acc += correct_prediction.float().mean()
        return (acc / len(test_loader)).item()


def loaders(data_dir: str | None = None):
    mnist_train, mnist_test = image_datasets("mnist", data_dir)
    train_loader = DataLoader(dataset=mnist_train, batch_size=batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(dataset=mnist_test, batch_size=batch_size, shuffle=False, drop_last=True)
    return train_loader, test_loader


def run(seed: int, data_dir: str | None = None, epochs: int = training_epochs, lrs=LRS) -> dict[str, float]:
    torch.manual_seed(seed)
    train_loader, test_loader = loaders(data_dir)
    criterion = torch.nn.CrossEntropyLoss()
    train_total_batch = len(train_loader)
    out = {}
    for lr in lrs:
        bn_model, nn_model = make_model(batch_norm=True), make_model(batch_norm=False)
        bn_optimizer = torch.optim.Adam(bn_model.parameters(), lr=lr)
        nn_optimizer = torch.optim.Adam(nn_model.parameters(), lr=lr)
        for _ in range(epochs):
            bn_model.train()
            nn_model.train()
            bn_cost, nn_cost = 0, 0
            for X, Y in train_loader:
                bn_cost += train_step(bn_model, bn_optimizer, criterion, X, Y) / train_total_batch
                nn_cost += train_step(nn_model, nn_optimizer, criterion, X, Y) / train_total_batch
        for net, model, cost in (("BN", bn_model, bn_cost), ("no BN", nn_model, nn_cost)):
            out[f"test accuracy, {net}, lr {lr:g}"] = evaluate(model, test_loader)
            out[f"train cost of the last epoch, {net}, lr {lr:g}"] = cost
    return out
