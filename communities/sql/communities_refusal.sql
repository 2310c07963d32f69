-- Every rule of a sign-up, in the one order: the first that refuses, as a code, or NULL when the
-- volunteer may take the shift. Plain values in, nothing read: the caller gives the rows, so one
-- volunteer can be asked about every listed shift, or every volunteer about one shift, in one
-- query (the function is inlined into it). Every path that places someone or offers a place goes
-- through here (docs/rules.md); communities_sign_up_refusal adds the details of the refusal.
--
-- check: 'sign_up'   every rule: the shift open for sign-up, no live place on it yet,
--                    eligibility, then the volunteer's schedule;
--        'promotion' a waiting volunteer offered a place: their own ticket is no refusal;
--        'holder'    a volunteer already placed, re-checked after the shift moved: eligibility
--                    and schedule only.
-- waive: a coordinator's reason overrides the eligibility rules, all but a suspension.
--
-- Codes: shift_cancelled, shift_over, signup_closed, already_signed_up; the eligibility reasons
-- status, skill, qualification, insurance, age, guardian_consent (refused as not_eligible);
-- overlapping_shift, rest_period, daily_limit.
CREATE OR REPLACE FUNCTION communities_refusal(
    -- the shift, and what its post type requires
    s_status text, s_starts timestamptz, s_ends timestamptz, s_opens timestamptz, s_closes timestamptz,
    pt_skills bigint[], pt_qualifications bigint[], pt_insurance boolean, pt_min_age integer,
    -- the volunteer: their row, skills, qualifications (type and end date), whether they hold a
    -- live place on this shift, and their other confirmed or worked shifts nearby, in start order
    v_status text, v_birth_date date, v_insured_until date, v_guardian_consent boolean,
    v_skills bigint[], v_qualifications bigint[], v_qualified_until date[], v_held boolean,
    busy_starts timestamptz[], busy_ends timestamptz[],
    -- the moment, the check, and settings.RULES
    now timestamptz, check_ text, waive boolean, time_zone text,
    close_before interval,      -- DEFAULT_SIGNUP_CLOSES_BEFORE
    min_rest interval,          -- MIN_REST_HOURS
    max_day_minutes integer,    -- MAX_HOURS_PER_DAY, in minutes
    minor_age integer           -- MINOR_AGE
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        -- The window: not cancelled, not over, open for sign-up now.
        WHEN check_ <> 'holder' AND s_status = 'cancelled' THEN 'shift_cancelled'
        WHEN check_ <> 'holder' AND s_ends <= now THEN 'shift_over'
        WHEN check_ <> 'holder'
             AND ((s_opens IS NOT NULL AND now < s_opens) OR now >= coalesce(s_closes, s_starts - close_before))
            THEN 'signup_closed'
        -- One live place per volunteer and shift.
        WHEN check_ = 'sign_up' AND v_held THEN 'already_signed_up'
        -- Eligibility on the shift's local date (domain page, 《志愿服务条例》).
        WHEN v_status <> 'active' AND NOT (waive AND v_status <> 'suspended') THEN 'status'
        WHEN NOT waive AND NOT pt_skills <@ v_skills THEN 'skill'
        WHEN NOT waive AND cardinality(pt_qualifications) > 0
             AND cardinality(communities_qualifications_missing(pt_qualifications, v_qualifications,
                     v_qualified_until, (s_starts AT TIME ZONE time_zone)::date)) > 0
            THEN 'qualification'
        WHEN NOT waive AND pt_insurance
             AND (v_insured_until IS NULL OR v_insured_until < (s_starts AT TIME ZONE time_zone)::date)
            THEN 'insurance'
        WHEN NOT waive AND (s_starts AT TIME ZONE time_zone)::date < communities_birthday(v_birth_date, pt_min_age)
            THEN 'age'
        WHEN NOT waive AND (s_starts AT TIME ZONE time_zone)::date < communities_birthday(v_birth_date, minor_age)
             AND NOT v_guardian_consent THEN 'guardian_consent'
        -- The schedule, never waived.
        ELSE (communities_schedule_refusal(s_starts, s_ends, busy_starts, busy_ends, time_zone, min_rest,
                                           max_day_minutes)).code
    END
$$;
