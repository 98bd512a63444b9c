import pytest

from jaxnets import data, init, models, optim
from jaxnets.errors import InputError, unknown


def test_unknown_names_suggest_the_closest_and_list_the_choices():
    error = unknown("optimizer", "adm", ["sgd", "adam", "rmsprop"])
    assert isinstance(error, ValueError)
    assert str(error) == "unknown optimizer 'adm'; did you mean 'adam'? Choose one of: adam, rmsprop, sgd"
    assert "did you mean" not in str(unknown("optimizer", "zzz", ["sgd"]))


@pytest.mark.parametrize(
    "call, hint",
    [
        (lambda: optim.optimizer("adm", 0.1), "'adam'"),
        (lambda: init.kernel_init("xavier"), "'xavier_normal'"),
        (lambda: models.activation("relu6"), "'relu'"),
        (lambda: data.load("mnits"), "'mnist'"),
    ],
)
def test_every_lookup_by_name_raises_an_input_error_with_a_suggestion(call, hint):
    with pytest.raises(InputError, match=f"did you mean {hint}"):
        call()
