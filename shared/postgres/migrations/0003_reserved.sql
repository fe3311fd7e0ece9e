-- Placeholder on the observability branch only: number 3 is another change's (the outbox).
-- Migrations must be numbered 1, 2, 3...; delete this file when merging that change.
SELECT 1;
