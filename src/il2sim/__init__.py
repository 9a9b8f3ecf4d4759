"""il2sim: a simulator of interleukin-2 (aldesleukin) cancer immunotherapy."""

from ._errors import UserError as UserError
from ._version import __version__ as __version__
