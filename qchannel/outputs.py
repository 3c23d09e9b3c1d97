"""Output paths checked before the work starts.

A run that would end by writing to a path it cannot use fails at once, with
one line naming the option, instead of after minutes of Monte Carlo.
"""
import os
import tempfile


def _probe(folder, name, path):
    """Create and remove a file in ``folder``: permission bits do not tell
    (root passes every ``os.access`` check, yet cannot write in ``/proc``)."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".qchannel-probe-"):
            pass
    except OSError as err:
        raise ValueError(f"{name} {path}: cannot write in the folder {folder} "
                         f"({err.strerror or err})") from None


def _writable_dir(folder, name, path):
    folder = folder or "."
    if not os.path.exists(folder):
        raise ValueError(f"{name} {path}: the folder {folder} does not exist")
    if not os.path.isdir(folder):
        raise ValueError(f"{name} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path}: the folder {folder} is not writable")
    _probe(folder, name, path)


def check_output_file(path, name, must_not_exist=False):
    """``path`` can be written as a file: its folder exists and is writable,
    and it is not a folder (nor an existing file when ``must_not_exist``)."""
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{name} needs a file name")
    if os.path.isdir(path):
        raise ValueError(f"{name} {path} is a folder: give a file name")
    if must_not_exist and os.path.exists(path):
        raise ValueError(f"{name} {path} already exists: remove it or choose another name")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{name} {path} exists and is not writable")
    _writable_dir(os.path.dirname(os.path.abspath(path)), name, path)
    return path


def check_output_dir(path, name):
    """``path`` is (or can be created as) a writable folder."""
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{name} needs a folder name")
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise ValueError(f"{name} {path} is an existing file: give a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{name} {path} is not writable")
        _probe(path, name, path)
        return path
    parent = os.path.dirname(os.path.abspath(path))
    # the folder will be created with its missing parents: the first existing
    # ancestor must be a writable folder
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{name} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path}: {parent} is not writable")
    _probe(parent, name, path)
    return path


#: Image formats ``--plot`` writes without anything beyond matplotlib and
#: Pillow (pgf needs LaTeX, avif a recent Pillow: they would fail after the run).
IMAGE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def check_image_file(path, name):
    """``path`` can be written as an image: a writable file whose extension
    (none means PNG) is a format matplotlib writes here."""
    path = check_output_file(path, name)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext and ext not in IMAGE_FORMATS:
        raise ValueError(f"{name} {path}: .{ext} is not an image format qchannel writes; use "
                         f"one of {', '.join('.' + f for f in IMAGE_FORMATS)}")
    return path
