import pytest

from cats_dit import breeds


def test_thirteen_labels_in_contract_order():
    assert breeds.NUM_CLASSES == 13
    assert breeds.LABELS[0] == "Abyssinian" and breeds.LABELS[11] == "Sphynx"
    assert breeds.LABELS[12] == "other"
    assert list(breeds.CAT_BREEDS) == sorted(breeds.CAT_BREEDS, key=str.lower)
    assert breeds.NULL_CLASS_ID == 13


@pytest.mark.parametrize(
    "spelling", ["British_Shorthair", "british shorthair", "BRITISH-SHORTHAIR", " British Shorthair "]
)
def test_lenient_lookup(spelling):
    assert breeds.to_id(spelling) == 4
    assert breeds.to_name(spelling) == "British_Shorthair"


def test_ids_and_display_names():
    assert breeds.to_id(7) == 7
    assert breeds.to_id("12") == 12
    assert breeds.display_name("Maine_Coon") == "Maine Coon"
    assert "not one of the 12 breeds" in breeds.display_name("other")
    assert breeds.to_id(breeds.display_name("other")) == 12


@pytest.mark.parametrize("bad", ["Tabby", "", 13, -1, True])
def test_unknown_breed_lists_valid_names(bad):
    with pytest.raises(ValueError) as err:
        breeds.to_id(bad)
    assert "Abyssinian" in str(err.value)


def test_oxford_mapping_covers_all_37_classes():
    cats = [breeds.oxford_to_id(name) for name in breeds.CAT_BREEDS]
    dogs = [breeds.oxford_to_id(name) for name in breeds.DOG_BREEDS]
    assert cats == list(range(12))
    assert len(dogs) == 25 and set(dogs) == {breeds.OTHER_ID}
    assert breeds.oxford_to_id("Egyptian_Mau") == 5
    assert breeds.is_cat("Sphynx") and not breeds.is_cat("beagle")
    with pytest.raises(ValueError):
        breeds.oxford_to_id("unicorn")


def _spellings(name: str) -> list[str]:
    return [name, name.upper(), name.lower(), name.replace("_", " "), name.replace("_", "-"), f"  {name.lower()} "]


def test_hub_pipeline_copy_of_name_lookup_agrees_with_breeds():
    """pipeline_cats_dit ships alone as Hub code, so it keeps its own name lookup: same answers."""
    from types import SimpleNamespace

    from cats_dit.pipeline_cats_dit import CatsDiTPipeline

    fake = SimpleNamespace(id2label=dict(enumerate(breeds.LABELS)), labels=list(breeds.LABELS))
    for i, name in enumerate(breeds.LABELS):
        for spelling in _spellings(name):
            assert CatsDiTPipeline.get_label_ids(fake, spelling) == [breeds.to_id(spelling)] == [i], spelling
        assert CatsDiTPipeline.get_label_ids(fake, i) == [breeds.to_id(i)]
    for bad in ("Tabby", "Maine__Coon", "Siamese cat"):
        with pytest.raises(ValueError):
            breeds.to_id(bad)
        with pytest.raises(ValueError):
            CatsDiTPipeline.get_label_ids(fake, bad)


def test_onnx_pipeline_uses_the_one_name_lookup():
    from cats_dit import onnx_pipeline

    assert onnx_pipeline.normalise_name is breeds.normalise_name
