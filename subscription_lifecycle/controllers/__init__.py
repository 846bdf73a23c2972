from . import portal
from . import wallet
from . import webhook
from . import whatsapp
from . import telegram
