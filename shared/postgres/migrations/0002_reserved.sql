-- Placeholder on the observability branch only: number 2 is another change's (gift_events).
-- Migrations must be numbered 1, 2, 3...; delete this file when merging that change.
SELECT 1;
