-- Busy time near a span, of every volunteer who has any: for each, their confirmed or worked
-- shifts that overlap [p_from, p_to), but p_except_shift, in start order (ids, starts, ends).
-- What the schedule rules (communities_schedule_refusal) are checked against: communities_busy
-- reads one volunteer's from here, a coordinator's candidates everyone's at once (one pass over
-- the shifts near the span instead of a pass over each volunteer's assignments).
-- A shift lasts at most a day (the constraint shift_at_most_24_hours), so one that ends after
-- p_from starts after p_from - 1 day: that bound only lets the shifts be found by start time.
CREATE OR REPLACE FUNCTION communities_busy_of(
    p_from timestamptz, p_to timestamptz, p_except_shift bigint DEFAULT NULL
) RETURNS TABLE (volunteer_id bigint, ids bigint[], starts timestamptz[], ends timestamptz[])
LANGUAGE sql STABLE AS $$
    SELECT a.volunteer_id,
           array_agg(o.id ORDER BY o.starts_at, o.id),
           array_agg(o.starts_at ORDER BY o.starts_at, o.id),
           array_agg(o.ends_at ORDER BY o.starts_at, o.id)
      FROM communities_assignment a JOIN communities_shift o ON o.id = a.shift_id
     WHERE a.status IN ('confirmed', 'completed')
       AND o.id IS DISTINCT FROM p_except_shift AND o.starts_at < p_to AND o.ends_at > p_from
       AND o.starts_at > p_from - interval '1 day'
     GROUP BY a.volunteer_id
$$;
