import pytest

import course_utils
from course_utils.config import (DATA_SOURCES, PROFILE_NAMES, ProfileError, check_source,
                                 get_profile, resolve_profile_name)


def test_every_profile_has_the_same_sections():
    sections = [set(get_profile(name).sections) for name in PROFILE_NAMES]
    assert all(s == sections[0] for s in sections)


def test_profiles_grow_from_ci_to_full():
    ci, book, full = (get_profile(n) for n in ("ci", "book", "full"))
    assert ci["data"]["n_users"] < book["data"]["n_users"] < full["data"]["n_users"]


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ProfileError) as err:
        get_profile("huge")
    for name in PROFILE_NAMES:
        assert name in str(err.value)


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert resolve_profile_name(None) == "full"
    assert resolve_profile_name("ci") == "ci"  # an explicit name wins
    monkeypatch.setenv("COURSE_PROFILE", "nope")
    with pytest.raises(ProfileError, match="COURSE_PROFILE"):
        resolve_profile_name(None)


def test_unknown_source_lists_the_valid_ones():
    with pytest.raises(ProfileError) as err:
        check_source("movielens")
    for name in DATA_SOURCES:
        assert name in str(err.value)


def test_missing_section_is_named():
    with pytest.raises(KeyError, match="no section 'gpu'"):
        get_profile("ci")["gpu"]


def test_start_seeds_numpy_reproducibly():
    import numpy as np

    course_utils.start("ci", seed=7)
    first = np.random.random(3)
    course_utils.start("ci", seed=7)
    assert np.array_equal(first, np.random.random(3))


def test_profile_sections_are_copies():
    get_profile("ci")["data"]["n_users"] = -1
    assert get_profile("ci")["data"]["n_users"] > 0
