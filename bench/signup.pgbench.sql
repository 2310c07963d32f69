-- One self sign-up, as communities.services.shift_sign_up runs it on PostgreSQL, for pgbench:
--
--   pgbench -n -c 32 -j 2 -T 15 -f bench/signup.pgbench.sql \
--     -D shift_min=<first bench shift id> -D shift_max=<last> \
--     -D volunteer_min=<first volunteer id> -D volunteer_max=<last> <database>
--
-- bench/signup_http.py runs it with the ids of its bench data. Same locks in the same order
-- (shift, then volunteer), the same reads, the conditional counter update and the insert; the
-- refusals the service makes (already signed up, a clashing shift) end the transaction without
-- a write, as in the service. Left out: the token and user lookups before the transaction, the
-- eligibility reads of skills and qualifications, the notification rows and the response query.

\set shift random(:shift_min, :shift_max)
\set volunteer random(:volunteer_min, :volunteer_max)
\set rest 28800
\set window 86400

BEGIN;

-- The shift, locked, with what the service reads alongside it.
SELECT extract(epoch FROM s.starts_at)::bigint AS starts, extract(epoch FROM s.ends_at)::bigint AS ends,
       s.capacity, s.confirmed_count, s.status, p.name AS post_name, pt.min_age, c.name AS community_name
  FROM communities_shift s
  JOIN communities_post p ON p.id = s.post_id
  JOIN communities_posttype pt ON pt.id = p.post_type_id
  JOIN communities_community c ON c.id = s.community_id
 WHERE s.id = :shift
   FOR UPDATE OF s
\gset

-- Then the volunteer.
SELECT * FROM volunteers_volunteer WHERE id = :volunteer FOR UPDATE;

SELECT count(*) AS already
  FROM communities_assignment
 WHERE shift_id = :shift AND volunteer_id = :volunteer AND status <> 'cancelled'
\gset

-- The overlap query: the volunteer's confirmed shifts within a day; a clash is one inside the rest period.
SELECT count(*) FILTER (WHERE s.starts_at < to_timestamp(:ends + :rest) AND s.ends_at > to_timestamp(:starts - :rest))
       AS clashes
  FROM communities_shift s
  JOIN communities_assignment a ON a.shift_id = s.id
 WHERE a.volunteer_id = :volunteer AND a.status IN ('confirmed', 'completed')
   AND s.starts_at < to_timestamp(:ends + :window) AND s.ends_at > to_timestamp(:starts - :window)
   AND s.id <> :shift
\gset

\if :already = 0 AND :clashes = 0
-- A place if one is free (the conditional update), else a waitlist ticket.
WITH taken AS (
    UPDATE communities_shift SET confirmed_count = confirmed_count + 1
     WHERE id = :shift AND confirmed_count < capacity
    RETURNING id
)
SELECT count(*) AS taken FROM taken
\gset
\if :taken
INSERT INTO communities_assignment
    (shift_id, volunteer_id, status, source, override_reason, created_at, updated_at, confirmed_at,
     checkin_method, checkout_method, checkin_flagged, hours_status, tally_pending)
VALUES (:shift, :volunteer, 'confirmed', 'self', '', now(), now(), now(), '', '', false, 'none', false)
ON CONFLICT DO NOTHING;
\else
UPDATE communities_shift SET waitlist_count = waitlist_count + 1, waitlist_seq = waitlist_seq + 1
 WHERE id = :shift
RETURNING waitlist_seq
\gset
INSERT INTO communities_assignment
    (shift_id, volunteer_id, status, source, override_reason, created_at, updated_at, waitlist_order,
     checkin_method, checkout_method, checkin_flagged, hours_status, tally_pending)
VALUES (:shift, :volunteer, 'waitlisted', 'self', '', now(), now(), :waitlist_seq, '', '', false, 'none', false)
ON CONFLICT DO NOTHING;
\endif
\endif

COMMIT;
