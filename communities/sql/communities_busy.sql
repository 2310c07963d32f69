-- A volunteer's busy time near a shift: their confirmed or worked shifts that overlap
-- [p_from, p_to), but p_except_shift, in start order (ids, starts, ends); empty arrays when none.
-- What the schedule rules (communities_schedule_refusal) are checked against: their row of
-- communities_busy_of (PostgreSQL reads only this volunteer's assignments).
CREATE OR REPLACE FUNCTION communities_busy(
    p_volunteer_id bigint, p_from timestamptz, p_to timestamptz, p_except_shift bigint DEFAULT NULL
) RETURNS TABLE (ids bigint[], starts timestamptz[], ends timestamptz[])
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(b.ids), '{}'), coalesce(max(b.starts), '{}'), coalesce(max(b.ends), '{}')
      FROM communities_busy_of(p_from, p_to, p_except_shift) b
     WHERE b.volunteer_id = p_volunteer_id
$$;
