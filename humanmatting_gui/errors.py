"""The exceptions humanmatting raises, each with a message a user can act on."""


class HumanMattingError(Exception):
    """Base class: anything the command line prints as one line and the window as a message."""


class ModelFileError(HumanMattingError):
    """A model file is missing, truncated, or not a model."""


class InputError(HumanMattingError):
    """An input image, video, folder or background cannot be read or is not what was asked for."""


class SourceError(HumanMattingError):
    """A live frame source (camera, video, image folder) cannot be opened or stopped delivering."""


class OutputError(HumanMattingError):
    """An output cannot be written: unwritable folder, existing file, unsupported format."""
