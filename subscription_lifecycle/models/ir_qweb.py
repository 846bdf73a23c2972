from contextlib import contextmanager
from contextvars import ContextVar

from lxml import etree

from odoo import models

# The templates compiled so far by the block of ``compiled_once``, by source and
# compile context; None outside one. A Python context variable, out of reach
# of RPC callers, and of any rendering but the one the block makes.
_COMPILED = ContextVar("lifecycle_qweb_compiled", default=None)


@contextmanager
def compiled_once():
    """Inside the block, an inline QWeb template is compiled once, however many records it renders for.

    Odoo renders a mail template's body for each record from its source
    (``mail.render.mixin._render_template_qweb`` parses it again for each
    record) and ``ir.qweb`` caches nothing it compiles from a parsed
    document: each reminder compiled the whole body to Python again, most of
    the time a reminder costs. The compiled functions depend on nothing but
    the source and the compile context: the key here is the source, the user
    and the whole context (language, restricted rendering...), more than
    ``ir.qweb`` keys the views it caches with. The cache lives as long as the
    block: nothing is kept between batches.
    """
    token = _COMPILED.set({})
    try:
        yield
    finally:
        _COMPILED.reset(token)


class IrQweb(models.AbstractModel):
    _inherit = "ir.qweb"

    def _compile(self, template):
        compiled = _COMPILED.get()
        if compiled is None or not isinstance(template, etree._Element):
            return super()._compile(template)
        context = sorted((key, repr(value)) for key, value in self.env.context.items() if not key.startswith("_"))
        key = (etree.tostring(template), self.env.uid, self.env.su, tuple(context))
        if key not in compiled:
            compiled[key] = super()._compile(template)
        return compiled[key]
