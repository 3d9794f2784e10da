"""Imports every capability's tables so the metadata (and Alembic) sees them all."""

from arrears.agreements import tables as _agreements  # noqa: F401
from arrears.audit import tables as _audit  # noqa: F401
from arrears.auth import tables as _auth  # noqa: F401
from arrears.cases import tables as _cases  # noqa: F401
from arrears.complaints import tables as _complaints  # noqa: F401
from arrears.contact import tables as _contact  # noqa: F401
from arrears.db.base import Base
from arrears.delinquency import tables as _delinquency  # noqa: F401
from arrears.ledger import tables as _ledger  # noqa: F401
from arrears.loans import tables as _loans  # noqa: F401

from arrears.db.append_only import APPEND_ONLY, install

metadata = Base.metadata
for _name in APPEND_ONLY:
    install(metadata.tables[_name])
