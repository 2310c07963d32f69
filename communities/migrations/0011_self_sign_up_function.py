"""A volunteer's own sign-up as one PostgreSQL function (communities_self_sign_up).

The same rules, in the same order, as ``communities.services.shift_sign_up`` in Python; the
service calls this function on PostgreSQL for self sign-ups (settings.SIGN_UP_IN_DATABASE) and
keeps the Python form for SQLite and for coordinators' assignments. tests/communities/
test_sign_up_function.py runs both forms over the same cases and requires the same answers.

The function takes the same locks in the same order (the shift, then the volunteer), refuses
with a code and the raw values of the details and writes nothing, or takes a place (the
conditional counter update) or a waitlist ticket and inserts the assignment. The notification
rows and everything the person reads stay in Python, in the same transaction.

Nothing happens on SQLite.
"""

from django.db import migrations

BIRTHDAY = """
CREATE OR REPLACE FUNCTION communities_birthday(born date, age integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- The day someone born on ``born`` turns ``age``; 29 February falls on 1 March in other years
    -- (communities.eligibility._birthday).
    SELECT CASE
        WHEN extract(month FROM born) = 2 AND extract(day FROM born) = 29
             AND NOT (mod(extract(year FROM born)::integer + age, 4) = 0
                      AND (mod(extract(year FROM born)::integer + age, 100) <> 0
                           OR mod(extract(year FROM born)::integer + age, 400) = 0))
        THEN make_date(extract(year FROM born)::integer + age, 3, 1)
        ELSE make_date(extract(year FROM born)::integer + age, extract(month FROM born)::integer,
                       extract(day FROM born)::integer)
    END
$$;
"""

SIGN_UP = """
CREATE OR REPLACE FUNCTION communities_self_sign_up(
    p_shift_id bigint,
    p_volunteer_id bigint,      -- the volunteer, or NULL for p_user_id's own profile
    p_user_id integer,
    p_now timestamptz,
    p_time_zone text,           -- calendar days (daily limit, dates of eligibility) are local
    p_close_before interval,    -- RULES: DEFAULT_SIGNUP_CLOSES_BEFORE
    p_min_rest interval,        -- RULES: MIN_REST_HOURS
    p_max_day_minutes integer,  -- RULES: MAX_HOURS_PER_DAY, in minutes
    p_minor_age integer,        -- RULES: MINOR_AGE
    -- The refusal (NULL when signed up) and the raw values of its details.
    OUT code text,
    OUT d_shift bigint, OUT d_starts timestamptz, OUT d_ends timestamptz,
    OUT d_reason text, OUT d_status text, OUT d_missing text[], OUT d_min_age integer,
    OUT d_day date, OUT d_minutes integer, OUT d_opens timestamptz, OUT d_closes timestamptz,
    -- The assignment made.
    OUT a_id bigint, OUT a_status text, OUT a_waitlist_order integer, OUT a_position integer,
    OUT a_created_at timestamptz,
    -- What the answer and the notification texts read of the shift and the volunteer.
    OUT s_starts_at timestamptz, OUT s_ends_at timestamptz, OUT s_status text, OUT s_capacity integer,
    OUT s_confirmed_count integer, OUT s_waitlist_count integer,
    OUT s_post_id bigint, OUT s_post_name text, OUT s_community_id bigint, OUT s_community_name text,
    OUT s_community_name_en text, OUT s_post_type_id bigint, OUT s_post_type_name text,
    OUT s_post_type_name_en text,
    OUT v_id bigint, OUT v_user_id integer, OUT v_volunteer_number text, OUT v_mobile text,
    OUT v_notify_by_sms boolean, OUT v_notify_by_email boolean, OUT v_message_language text,
    OUT v_anonymised_at timestamptz, OUT v_email text
)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    v record;
    local_day date;
    nearby interval := greatest(p_min_rest, interval '1 day');
    taken integer := 0;
    other record;
    too_close bigint;
    same_days boolean := false;
    span_start timestamptz;
    span_end timestamptz;
BEGIN
    -- 1. The shift, locked (its counters and tickets), with its post, duty and community.
    SELECT sh.id, sh.starts_at, sh.ends_at, sh.capacity, sh.confirmed_count, sh.waitlist_count, sh.status,
           sh.signup_opens_at, sh.signup_closes_at, sh.post_id, sh.community_id,
           p.name AS post_name, c.name AS community_name, c.name_en AS community_name_en,
           pt.id AS post_type_id, pt.name AS post_type_name, pt.name_en AS post_type_name_en,
           pt.requires_insurance, pt.min_age
      INTO s
      FROM communities_shift sh
      JOIN communities_post p ON p.id = sh.post_id
      JOIN communities_posttype pt ON pt.id = p.post_type_id
      JOIN communities_community c ON c.id = sh.community_id
     WHERE sh.id = p_shift_id
       FOR UPDATE OF sh;
    IF NOT FOUND THEN
        code := 'not_found';
        RETURN;
    END IF;
    s_starts_at := s.starts_at; s_ends_at := s.ends_at; s_status := s.status; s_capacity := s.capacity;
    s_confirmed_count := s.confirmed_count; s_waitlist_count := s.waitlist_count;
    s_post_id := s.post_id; s_post_name := s.post_name; s_community_id := s.community_id;
    s_community_name := s.community_name; s_community_name_en := s.community_name_en;
    s_post_type_id := s.post_type_id; s_post_type_name := s.post_type_name;
    s_post_type_name_en := s.post_type_name_en;

    -- 2. Then the volunteer (their overlap, rest and daily-limit checks), with the e-mail address.
    SELECT vo.id, vo.user_id, vo.volunteer_number, vo.status, vo.birth_date, vo.insurance_valid_until,
           vo.guardian_consent, vo.mobile, vo.notify_by_sms, vo.notify_by_email, vo.message_language,
           vo.anonymised_at, u.email
      INTO v
      FROM volunteers_volunteer vo JOIN auth_user u ON u.id = vo.user_id
     WHERE vo.id = coalesce(p_volunteer_id, (SELECT own.id FROM volunteers_volunteer own WHERE own.user_id = p_user_id))
       FOR UPDATE OF vo;
    IF NOT FOUND THEN
        code := CASE WHEN p_volunteer_id IS NULL THEN 'not_a_volunteer' ELSE 'not_found' END;
        RETURN;
    END IF;
    v_id := v.id; v_user_id := v.user_id; v_volunteer_number := v.volunteer_number; v_mobile := v.mobile;
    v_notify_by_sms := v.notify_by_sms; v_notify_by_email := v.notify_by_email;
    v_message_language := v.message_language; v_anonymised_at := v.anonymised_at; v_email := v.email;

    -- 3. The shift itself: cancelled, over, outside its sign-up window.
    IF s.status = 'cancelled' THEN
        code := 'shift_cancelled';
        RETURN;
    END IF;
    IF s.ends_at <= p_now THEN
        code := 'shift_over';
        RETURN;
    END IF;
    d_opens := s.signup_opens_at;
    d_closes := coalesce(s.signup_closes_at, s.starts_at - p_close_before);
    IF (d_opens IS NOT NULL AND p_now < d_opens) OR p_now >= d_closes THEN
        code := 'signup_closed';
        RETURN;
    END IF;
    d_opens := NULL;
    d_closes := NULL;

    -- 4. A live place on this shift already.
    PERFORM 1 FROM communities_assignment a
      WHERE a.volunteer_id = v.id AND a.shift_id = s.id AND a.status <> 'cancelled';
    IF FOUND THEN
        code := 'already_signed_up';
        RETURN;
    END IF;

    -- 5. Eligibility on the shift's local date (communities.eligibility.ineligibility).
    local_day := (s.starts_at AT TIME ZONE p_time_zone)::date;
    IF v.status <> 'active' THEN
        code := 'not_eligible'; d_reason := 'status'; d_status := v.status;
        RETURN;
    END IF;
    SELECT array_agg(sk.code::text ORDER BY sk.code COLLATE "C") INTO d_missing
      FROM communities_posttype_required_skills r
      JOIN volunteers_skill sk ON sk.id = r.skill_id
     WHERE r.posttype_id = s.post_type_id
       AND NOT EXISTS (SELECT 1 FROM volunteers_volunteer_skills vs
                        WHERE vs.volunteer_id = v.id AND vs.skill_id = r.skill_id);
    IF d_missing IS NOT NULL THEN
        code := 'not_eligible'; d_reason := 'skill';
        RETURN;
    END IF;
    SELECT array_agg(qt.code::text ORDER BY qt.code COLLATE "C") INTO d_missing
      FROM communities_posttype_required_qualifications r
      JOIN volunteers_qualificationtype qt ON qt.id = r.qualificationtype_id
     WHERE r.posttype_id = s.post_type_id
       AND NOT EXISTS (SELECT 1 FROM volunteers_qualification q
                        WHERE q.volunteer_id = v.id AND q.qualification_type_id = r.qualificationtype_id
                          AND (q.valid_until IS NULL OR q.valid_until >= local_day));
    IF d_missing IS NOT NULL THEN
        code := 'not_eligible'; d_reason := 'qualification';
        RETURN;
    END IF;
    IF s.requires_insurance AND (v.insurance_valid_until IS NULL OR v.insurance_valid_until < local_day) THEN
        code := 'not_eligible'; d_reason := 'insurance';
        RETURN;
    END IF;
    IF local_day < communities_birthday(v.birth_date, s.min_age) THEN
        code := 'not_eligible'; d_reason := 'age'; d_min_age := s.min_age;
        RETURN;
    END IF;
    IF local_day < communities_birthday(v.birth_date, p_minor_age) AND NOT v.guardian_consent THEN
        code := 'not_eligible'; d_reason := 'guardian_consent';
        RETURN;
    END IF;

    -- 6. The volunteer's confirmed or worked shifts nearby, in order: the first that overlaps,
    -- else the first too close for the rest period; and whether any touches this shift's days.
    span_start := ((s.starts_at AT TIME ZONE p_time_zone)::date)::timestamp AT TIME ZONE p_time_zone;
    span_end := (((s.ends_at - interval '1 microsecond') AT TIME ZONE p_time_zone)::date + 1)::timestamp
                AT TIME ZONE p_time_zone;
    FOR other IN
        SELECT o.id, o.starts_at, o.ends_at
          FROM communities_assignment a JOIN communities_shift o ON o.id = a.shift_id
         WHERE a.volunteer_id = v.id AND a.status IN ('confirmed', 'completed') AND a.shift_id <> s.id
           AND o.starts_at < s.ends_at + nearby AND o.ends_at > s.starts_at - nearby
         ORDER BY o.starts_at, o.id
    LOOP
        IF other.starts_at < s.ends_at AND other.ends_at > s.starts_at THEN
            code := 'overlapping_shift'; d_shift := other.id; d_starts := other.starts_at; d_ends := other.ends_at;
            RETURN;
        END IF;
        IF too_close IS NULL
           AND other.starts_at < s.ends_at + p_min_rest AND other.ends_at > s.starts_at - p_min_rest THEN
            too_close := other.id;
        END IF;
        IF other.starts_at < span_end AND other.ends_at > span_start THEN
            same_days := true;
        END IF;
    END LOOP;
    IF too_close IS NOT NULL THEN
        code := 'rest_period'; d_shift := too_close;
        RETURN;
    END IF;
    -- No other shift on this one's days, and not longer than a day's limit on its own: no day
    -- can be over the limit, and the count is skipped.
    IF same_days OR extract(epoch FROM s.ends_at - s.starts_at) / 60 > p_max_day_minutes THEN
        -- Whole minutes of each piece of a shift cut at local midnights, on the local days this
        -- shift touches (communities.services._minutes_per_day); the first day over the limit.
        WITH days AS (
            SELECT day::date AS day,
                   (day::date)::timestamp AT TIME ZONE p_time_zone AS day_start,
                   (day::date + 1)::timestamp AT TIME ZONE p_time_zone AS day_end
              FROM generate_series((s.starts_at AT TIME ZONE p_time_zone)::date::timestamp,
                                   ((s.ends_at - interval '1 microsecond') AT TIME ZONE p_time_zone)::date::timestamp,
                                   interval '1 day') AS day
        ),
        busy AS (
            SELECT s.starts_at AS starts_at, s.ends_at AS ends_at
            UNION ALL
            SELECT o.starts_at, o.ends_at
              FROM communities_assignment a JOIN communities_shift o ON o.id = a.shift_id
             WHERE a.volunteer_id = v.id AND a.status IN ('confirmed', 'completed') AND a.shift_id <> s.id
               AND o.starts_at < s.ends_at + nearby AND o.ends_at > s.starts_at - nearby
        )
        SELECT days.day,
               sum(floor(extract(epoch FROM least(busy.ends_at, days.day_end)
                                            - greatest(busy.starts_at, days.day_start)) / 60))::integer
          INTO d_day, d_minutes
          FROM days JOIN busy ON busy.starts_at < days.day_end AND busy.ends_at > days.day_start
         GROUP BY days.day
        HAVING sum(floor(extract(epoch FROM least(busy.ends_at, days.day_end)
                                            - greatest(busy.starts_at, days.day_start)) / 60)) > p_max_day_minutes
         ORDER BY days.day
         LIMIT 1;
        IF d_day IS NOT NULL THEN
            code := 'daily_limit';
            RETURN;
        END IF;
    END IF;

    -- 7. A place if one is free (the conditional update; the check constraint backs it), else a
    -- ticket at the end of the line: under the shift lock every other holder came earlier.
    IF s.confirmed_count < s.capacity THEN
        UPDATE communities_shift SET confirmed_count = confirmed_count + 1
         WHERE id = s.id AND confirmed_count < capacity;
        GET DIAGNOSTICS taken = ROW_COUNT;
    END IF;
    IF taken = 1 THEN
        a_status := 'confirmed';
        s_confirmed_count := s.confirmed_count + 1;
    ELSE
        UPDATE communities_shift SET waitlist_count = waitlist_count + 1, waitlist_seq = waitlist_seq + 1
         WHERE id = s.id
        RETURNING waitlist_seq, waitlist_count INTO a_waitlist_order, a_position;
        a_status := 'waitlisted';
        s_waitlist_count := a_position;
    END IF;
    a_created_at := clock_timestamp();
    INSERT INTO communities_assignment (
        shift_id, volunteer_id, status, source, waitlist_order, assigned_by_id, override_reason,
        created_at, updated_at, confirmed_at, cancelled_at, checked_in_at, checked_out_at,
        checkin_method, checkout_method, checkin_flagged, checkin_distance_m, no_show_at,
        credited_minutes, hours_status, verified_by_id, verified_at, tally_pending
    ) VALUES (
        s.id, v.id, a_status, 'self', a_waitlist_order, NULL, '',
        a_created_at, a_created_at, CASE WHEN taken = 1 THEN p_now END, NULL, NULL, NULL,
        '', '', false, NULL, NULL,
        NULL, 'none', NULL, NULL, false
    )
    RETURNING id INTO a_id;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS communities_self_sign_up(
    bigint, bigint, integer, timestamptz, text, interval, interval, integer, integer);
DROP FUNCTION IF EXISTS communities_birthday(date, integer);
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BIRTHDAY)
        schema_editor.execute(SIGN_UP)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0010_shift_start_order_index"),
        ("volunteers", "0004_volunteer_message_language"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
