"""`course data import-caserec`: the caserec Anime sample becomes the kaggle_cooper files."""
from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from course_tools.real_sample import SampleFormatError, convert_caserec_anime
from course_utils.data import load

HISTORY = "User_ID\tAnime_ID\tFeedback\n1\t1\t1\n1\t2\t1\n2\t1\t1\n2\t3\t1\n"
RATINGS = "User_ID\tAnime_ID\tFeedback\n1\t1\t8\n2\t1\t6\n2\t3\t10\n"
INFO = ("anime_ids\tname\tgenre\ttype\tepisodes\trating\tmembers\n"
        "1\tKimi no Na wa.\tDrama, Romance, School, Supernatural\tMovie\t1\t9.37\t200630\n"
        "2\tGintama&#039;\tAction, Comedy\tTV\t51\t9.04\t151266\n"
        "3\tSteins;Gate\tSci-Fi, Thriller\tTV\t24\t9.17\t673572\n")


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(f"anime/{name}", text)
    return path


@pytest.fixture
def sample_zip(tmp_path):
    return _zip(tmp_path / "anime.zip", {"anime_history.dat": HISTORY,
                                        "anime_ratings.dat": RATINGS, "anime_info.dat": INFO})


def test_entries_without_a_score_become_minus_one(sample_zip, tmp_path):
    counts = convert_caserec_anime(sample_zip, tmp_path / "out")
    assert counts == {"users": 2, "anime": 3, "entries": 4, "scored": 3, "not_scored": 1}
    rating = pd.read_csv(tmp_path / "out" / "rating.csv")
    assert list(rating.columns) == ["user_id", "anime_id", "rating"]
    assert rating.values.tolist() == [[1, 1, 8], [1, 2, -1], [2, 1, 6], [2, 3, 10]]
    anime = pd.read_csv(tmp_path / "out" / "anime.csv")
    assert list(anime.columns) == ["anime_id", "name", "genre", "type", "episodes", "rating",
                                   "members"]
    assert anime.loc[0, "genre"] == "Drama, Romance, School, Supernatural"


def test_the_converted_files_load_as_kaggle_cooper(sample_zip, tmp_path):
    convert_caserec_anime(sample_zip, tmp_path / "out")
    ds = load("kaggle_cooper", data_dir=tmp_path / "out", profile="ci", seed=0,
              cache_dir=tmp_path / "cache")
    assert len(ds.interactions) == 4
    scored = ds.interactions[ds.interactions["rating"] > 0]
    assert sorted(scored["rating"].tolist()) == [6, 8, 10]
    assert "Gintama'" in ds.anime["title"].tolist()


def test_the_source_zip_is_not_modified(sample_zip, tmp_path):
    before = sample_zip.read_bytes()
    convert_caserec_anime(sample_zip, tmp_path / "out")
    assert sample_zip.read_bytes() == before


def test_a_missing_member_names_the_file(tmp_path):
    bad = _zip(tmp_path / "anime.zip", {"anime_history.dat": HISTORY, "anime_info.dat": INFO})
    with pytest.raises(SampleFormatError, match="no anime_ratings.dat inside"):
        convert_caserec_anime(bad, tmp_path / "out")


def test_a_wrong_header_names_the_member(tmp_path):
    bad = _zip(tmp_path / "anime.zip", {"anime_history.dat": HISTORY.replace("\t", ","),
                                       "anime_ratings.dat": RATINGS, "anime_info.dat": INFO})
    with pytest.raises(SampleFormatError, match="anime_history.dat: header"):
        convert_caserec_anime(bad, tmp_path / "out")


def test_a_score_without_a_list_entry_is_refused(tmp_path):
    bad = _zip(tmp_path / "anime.zip", {"anime_history.dat": HISTORY,
                                       "anime_ratings.dat": RATINGS + "3\t2\t7\n",
                                       "anime_info.dat": INFO})
    with pytest.raises(SampleFormatError, match="1 scores in anime_ratings.dat have no entry"):
        convert_caserec_anime(bad, tmp_path / "out")
    assert not (tmp_path / "out" / "rating.csv").exists()


def test_not_a_zip_is_a_clear_error(tmp_path):
    path = tmp_path / "anime.zip"
    path.write_text("not a zip")
    with pytest.raises(SampleFormatError, match="not a readable zip"):
        convert_caserec_anime(path, tmp_path / "out")
