from . import portal
from . import wallet
