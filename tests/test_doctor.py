"""The environment check names what is wrong and how to fix it."""
import subprocess
import sys

from course_tools import doctor


def test_missing_java_is_reported_with_a_fix(tmp_path):
    check = doctor.check_java(java_home="", path=str(tmp_path))
    assert check.status == "fail"
    assert "no java found" in check.found
    assert "JAVA_HOME" in check.fix and "17" in check.fix


def test_old_java_is_refused(tmp_path):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho \'openjdk version "1.8.0_382"\' >&2\n')
    fake.chmod(0o755)
    check = doctor.check_java(java_home=str(tmp_path), path="")
    assert check.status == "fail"
    assert "Java 8" in check.found and "17" in check.fix


def test_java_on_this_machine_is_found():
    exe, major = doctor.find_java()
    assert exe is not None and major >= doctor.MIN_JAVA


def test_missing_kaggle_data_names_the_files_and_the_download(tmp_path):
    check = doctor.check_data("kaggle", data_dir=tmp_path)
    assert check.status == "fail"
    assert "UserAnimeList.csv" in check.found
    assert "kaggle datasets download -d azathoth42/myanimelist" in check.fix


def test_present_kaggle_data_is_ok(tmp_path):
    for name in doctor.KAGGLE_FILES:
        (tmp_path / "kaggle").mkdir(exist_ok=True)
        (tmp_path / "kaggle" / name).write_text("x\n")
    assert doctor.check_data("kaggle", data_dir=tmp_path).status == "ok"


def test_synthetic_data_not_generated_is_only_a_warning(tmp_path):
    check = doctor.check_data("synthetic", data_dir=tmp_path, profile="ci")
    assert check.status == "warn" and "course data generate" in check.fix


def test_wrong_profile_is_reported():
    check = doctor.check_profile("huge")
    assert check.status == "fail" and "ci, book, full" in check.fix


def test_unknown_source_is_reported(tmp_path):
    assert doctor.check_data("movielens", data_dir=tmp_path).status == "fail"


def test_course_doctor_command_exits_nonzero_on_failure():
    result = subprocess.run([sys.executable, "-m", "course_tools.cli", "doctor",
                             "--profile", "huge", "--skip-tensorflow"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "[FAIL] Profile" in result.stdout
