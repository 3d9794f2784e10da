"""The collector's and supervisor's workbench pages: the queue (/work), the case page (/cases/{id}) with its
third-party and field-visit forms (``reach_pages``), the letter form (``letter_pages``) and the team view with reassignment (/work/team). Docs: docs/workbench.md."""

from fastapi import APIRouter

from arrears.web.workbench import case_pages, letter_pages, log_pages, queue_pages, reach_pages

router = APIRouter(include_in_schema=False)
router.include_router(queue_pages.router)
router.include_router(case_pages.router)
router.include_router(reach_pages.router)
router.include_router(log_pages.router)
router.include_router(letter_pages.router)
