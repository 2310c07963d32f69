-- A volunteer's busy time near a shift: their confirmed or worked shifts that overlap
-- [p_from, p_to), but p_except_shift, in start order (ids, starts, ends). What the schedule rules
-- (communities_schedule_refusal) are checked against.
CREATE OR REPLACE FUNCTION communities_busy(
    p_volunteer_id bigint, p_from timestamptz, p_to timestamptz, p_except_shift bigint DEFAULT NULL
) RETURNS TABLE (ids bigint[], starts timestamptz[], ends timestamptz[])
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(o.id ORDER BY o.starts_at, o.id), '{}'),
           coalesce(array_agg(o.starts_at ORDER BY o.starts_at, o.id), '{}'),
           coalesce(array_agg(o.ends_at ORDER BY o.starts_at, o.id), '{}')
      FROM communities_assignment a JOIN communities_shift o ON o.id = a.shift_id
     WHERE a.volunteer_id = p_volunteer_id AND a.status IN ('confirmed', 'completed')
       AND o.id IS DISTINCT FROM p_except_shift AND o.starts_at < p_to AND o.ends_at > p_from
$$;
