-- communities_refusal for one volunteer and one shift, read from their rows, with the raw values
-- of the refusal's details: what a sign-up, a coordinator's assignment, a promotion from the
-- waitlist and the re-check of a moved shift answer (communities.rules.sign_up). It reads and
-- locks nothing else: callers that write hold the shift and volunteer locks first.
CREATE OR REPLACE FUNCTION communities_sign_up_refusal(
    p_shift_id bigint,
    p_volunteer_id bigint,
    p_now timestamptz,
    p_time_zone text,
    p_close_before interval,
    p_min_rest interval,
    p_max_day_minutes integer,
    p_minor_age integer,
    p_check text DEFAULT 'sign_up',
    p_waive boolean DEFAULT false,
    OUT code text,
    OUT d_shift bigint, OUT d_starts timestamptz, OUT d_ends timestamptz,
    OUT d_reason text, OUT d_status text, OUT d_missing text[], OUT d_min_age integer,
    OUT d_day date, OUT d_minutes integer, OUT d_opens timestamptz, OUT d_closes timestamptz
)
LANGUAGE plpgsql STABLE
-- One plan for each statement, kept: re-planning the inlined rule expression on every call cost
-- more than running it (docs/rules.md).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    s record;
    v record;
    b record;
    nearby interval := greatest(p_min_rest, interval '1 day');
    local_day date;
    conflict record;
BEGIN
    SELECT sh.id, sh.status, sh.starts_at, sh.ends_at, sh.signup_opens_at, sh.signup_closes_at,
           pt.requires_insurance, pt.min_age,
           ARRAY(SELECT r.skill_id FROM communities_posttype_required_skills r
                  WHERE r.posttype_id = pt.id) AS skills,
           ARRAY(SELECT r.qualificationtype_id FROM communities_posttype_required_qualifications r
                  WHERE r.posttype_id = pt.id) AS qualifications
      INTO s
      FROM communities_shift sh
      JOIN communities_post p ON p.id = sh.post_id
      JOIN communities_posttype pt ON pt.id = p.post_type_id
     WHERE sh.id = p_shift_id;
    IF NOT FOUND THEN
        code := 'not_found';
        RETURN;
    END IF;
    -- The volunteer's skills and qualifications only when the post type asks for any (an empty
    -- requirement is met by anyone); whether they hold a place only when that is a refusal.
    SELECT vo.id, vo.status, vo.birth_date, vo.insurance_valid_until, vo.guardian_consent,
           CASE WHEN cardinality(s.skills) > 0 THEN
               ARRAY(SELECT k.skill_id FROM volunteers_volunteer_skills k WHERE k.volunteer_id = vo.id)
           ELSE '{}' END AS skills,
           CASE WHEN cardinality(s.qualifications) > 0 THEN
               ARRAY(SELECT q.qualification_type_id FROM volunteers_qualification q
                      WHERE q.volunteer_id = vo.id ORDER BY q.id)
           ELSE '{}' END AS qualifications,
           CASE WHEN cardinality(s.qualifications) > 0 THEN
               ARRAY(SELECT q.valid_until FROM volunteers_qualification q
                      WHERE q.volunteer_id = vo.id ORDER BY q.id)
           ELSE '{}' END AS qualified_until,
           p_check = 'sign_up' AND EXISTS (
               SELECT 1 FROM communities_assignment a
                WHERE a.volunteer_id = vo.id AND a.shift_id = p_shift_id AND a.status <> 'cancelled') AS held
      INTO v
      FROM volunteers_volunteer vo
     WHERE vo.id = p_volunteer_id;
    IF NOT FOUND THEN
        code := 'not_found';
        RETURN;
    END IF;
    -- The volunteer's other confirmed or worked shifts near this one.
    SELECT * INTO b FROM communities_busy(v.id, s.starts_at - nearby, s.ends_at + nearby, s.id);

    code := communities_refusal(
        s.status, s.starts_at, s.ends_at, s.signup_opens_at, s.signup_closes_at,
        s.skills, s.qualifications, s.requires_insurance, s.min_age,
        v.status, v.birth_date, v.insurance_valid_until, v.guardian_consent,
        v.skills, v.qualifications, v.qualified_until, v.held, b.starts, b.ends,
        p_now, p_check, p_waive, p_time_zone, p_close_before, p_min_rest, p_max_day_minutes, p_minor_age);

    -- The details of the refusal.
    local_day := (s.starts_at AT TIME ZONE p_time_zone)::date;
    CASE code
        WHEN 'signup_closed' THEN
            d_opens := s.signup_opens_at;
            d_closes := coalesce(s.signup_closes_at, s.starts_at - p_close_before);
        WHEN 'status' THEN
            d_status := v.status;
        WHEN 'skill' THEN
            SELECT array_agg(sk.code::text ORDER BY sk.code COLLATE "C") INTO d_missing
              FROM volunteers_skill sk WHERE sk.id = ANY (s.skills) AND sk.id <> ALL (v.skills);
        WHEN 'qualification' THEN
            SELECT array_agg(qt.code::text ORDER BY qt.code COLLATE "C") INTO d_missing
              FROM volunteers_qualificationtype qt
             WHERE qt.id = ANY (communities_qualifications_missing(s.qualifications, v.qualifications,
                                                                   v.qualified_until, local_day));
        WHEN 'age' THEN
            d_min_age := s.min_age;
        WHEN 'overlapping_shift', 'rest_period', 'daily_limit' THEN
            conflict := communities_schedule_refusal(s.starts_at, s.ends_at, b.starts, b.ends, p_time_zone,
                                                     p_min_rest, p_max_day_minutes);
            IF code = 'daily_limit' THEN
                d_day := conflict.day; d_minutes := conflict.minutes;
            ELSE
                d_shift := b.ids[conflict.busy];
            END IF;
            IF code = 'overlapping_shift' THEN
                d_starts := b.starts[conflict.busy]; d_ends := b.ends[conflict.busy];
            END IF;
        ELSE
            NULL;
    END CASE;
    IF code IN ('status', 'skill', 'qualification', 'insurance', 'age', 'guardian_consent') THEN
        d_reason := code;
        code := 'not_eligible';
    END IF;
END
$$;
