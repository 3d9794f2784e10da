"""Imports every capability's tables so the metadata (and Alembic) sees them all."""

from arrears.agreements import tables as _agreements  # noqa: F401
from arrears.audit import tables as _audit  # noqa: F401
from arrears.auth import tables as _auth  # noqa: F401
from arrears.cases import tables as _cases  # noqa: F401
from arrears.complaints import tables as _complaints  # noqa: F401
from arrears.contact import tables as _contact  # noqa: F401
from arrears.credit import tables as _credit  # noqa: F401
from arrears.db.base import Base
from arrears.delinquency import tables as _delinquency  # noqa: F401
from arrears.ledger import tables as _ledger  # noqa: F401
from arrears.legal import tables as _legal  # noqa: F401
from arrears.loans import tables as _loans  # noqa: F401
from arrears.negotiation import tables as _negotiation  # noqa: F401
from arrears.queues import tables as _queues  # noqa: F401
from arrears.reports import tables as _reports  # noqa: F401
from arrears.scores import tables as _scores  # noqa: F401
from arrears.strategy import tables as _strategy  # noqa: F401
from arrears.writeoff import tables as _writeoff  # noqa: F401

from arrears.db.append_only import APPEND_ONLY, install

metadata = Base.metadata
for _name in APPEND_ONLY:
    install(metadata.tables[_name])
