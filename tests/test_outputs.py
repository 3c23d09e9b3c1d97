"""Output paths are checked before the work starts, by writing, not by
permission bits (root passes every os.access check)."""
import os

import pytest

from qchannel.outputs import check_output_dir, check_output_file


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
@pytest.mark.parametrize("check,path", [
    (check_output_dir, "/proc/qchannel-no-such/keys"),
    (check_output_file, "/proc/qchannel-no-such.json"),
])
def test_a_folder_nobody_can_write_is_refused_naming_the_option(check, path):
    with pytest.raises(ValueError, match="^--keys-out /proc/qchannel-no-such"):
        check(path, "--keys-out")


def test_writable_places_pass_and_the_probe_leaves_nothing(tmp_path):
    assert check_output_dir(tmp_path / "new" / "deeper", "--keys-out") == str(tmp_path / "new" / "deeper")
    assert check_output_file(tmp_path / "out.json", "--out") == str(tmp_path / "out.json")
    assert check_output_dir(tmp_path, "--keys-out") == str(tmp_path)
    assert os.listdir(tmp_path) == []
