"""B10 twin: dropout, lab 09-3 as the notes write it (seed 002): ``linear1 =
torch.nn.Linear(784, 512, bias=True)`` … ``linear4`` (512, 512), ``linear5`` (512, 10), ``relu``,
``dropout = torch.nn.Dropout(p=drop_prob)`` with drop_prob 0.3, each weight
``xavier_uniform_``-initialised (as 09-2, whose model 09-3 deepens), the model
``Sequential(linear1, relu, dropout, …, linear4, relu, dropout, linear5)`` (one ``Dropout`` module
after each hidden ReLU), ``CrossEntropyLoss``, ``Adam(lr=0.001)``, the loader of 09-2 (batch 100,
``shuffle=True``, ``drop_last=True``), ``model.train()`` before the 15 epochs of the notes' loop,
and the test ``with torch.no_grad():`` after ``model.eval()`` (dropout off).

The notes show 09-3's test only as ``torch.no_grad()`` and ``model.eval()``; ours reports the
accuracy on /255 test images (``ToTensor``'s), which the twin measures too."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from twins.data import image_datasets
from twins.mnist_softmax import batch_size, test_accuracy, train, training_epochs

NUMBERS = {
    "test accuracy": {"notes": None, "ours": "test/dropout/accuracy", "kind": "accuracy"},
}

drop_prob = 0.3


def dropout_nn(p: float = drop_prob) -> torch.nn.Sequential:
    """The notes' "nn layers", the xavier initialization and the model."""
    # nn layers
    linear1 = torch.nn.Linear(784, 512, bias=True)
    linear2 = torch.nn.Linear(512, 512, bias=True)
    linear3 = torch.nn.Linear(512, 512, bias=True)
    linear4 = torch.nn.Linear(512, 512, bias=True)
    linear5 = torch.nn.Linear(512, 10, bias=True)
    relu = torch.nn.ReLU()
    dropout = torch.nn.Dropout(p=p)
    # xavier initialization
    torch.nn.init.xavier_uniform_(linear1.weight)
    torch.nn.init.xavier_uniform_(linear2.weight)
    torch.nn.init.xavier_uniform_(linear3.weight)
    torch.nn.init.xavier_uniform_(linear4.weight)
    torch.nn.init.xavier_uniform_(linear5.weight)
    # model
    return torch.nn.Sequential(
        linear1,
        relu,
        dropout,
        linear2,
        relu,
        dropout,
        linear3,
        relu,
        dropout,
        linear4,
        relu,
        dropout,
        linear5,
    )


def run(seed: int, data_dir: str | None = None, epochs: int = training_epochs) -> dict[str, float]:
    torch.manual_seed(seed)
    mnist_train, mnist_test = image_datasets("mnist", data_dir)
    # dataset loader
    data_loader = DataLoader(dataset=mnist_train, batch_size=batch_size, shuffle=True, drop_last=True)
    model = dropout_nn()
    # define cost/loss & optimizer
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    model.train()  # set the model to train mode (dropout=True)
    train(model, optimizer, data_loader, epochs)
    # Test model and check accuracy
    with torch.no_grad():
        model.eval()  # set the model to evaluation mode (dropout=False)
        X_test, Y_test = mnist_test.tensors
        accuracy = test_accuracy(model, X_test.view(-1, 28 * 28), Y_test)
    return {"test accuracy": accuracy}
