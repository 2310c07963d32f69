-- A volunteer's own sign-up in one statement: lock the shift, then the volunteer (their schedule),
-- ask communities_sign_up_refusal, take a place (the conditional counter update) or a waitlist
-- ticket, insert the assignment and, given their texts, the notification rows. Refusals write
-- nothing and answer a code with the raw values of its details; communities.services.signup
-- calls it and builds the answer.
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
    -- The confirmation and waitlist texts (communities.notifications.SignUpTexts), or NULL to
    -- leave the notification rows to the caller: the languages, five texts for each (confirmed
    -- subject and text, waitlisted subject and the text before and after the position), the
    -- programme's language, when quiet hours end (p_now outside them), and the shift's times and
    -- names the texts were written from. If these no longer match, nothing is written and the
    -- answer is code 'stale_texts'.
    p_languages text[],
    p_texts text[],
    p_default_language text,
    p_quiet_end timestamptz,
    p_text_starts_at timestamptz,
    p_text_ends_at timestamptz,
    p_text_post_name text,
    p_text_community_name text,
    p_text_community_name_en text,
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
    r record;
    taken integer := 0;
    text_at integer;
    n_urgent boolean;
    n_reachable boolean;
    n_kind text;
    n_subject text;
    n_body text;
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
       FOR NO KEY UPDATE OF sh;
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
    IF p_texts IS NOT NULL
       AND (s.starts_at, s.ends_at, s.post_name, s.community_name, s.community_name_en)
           IS DISTINCT FROM (p_text_starts_at, p_text_ends_at, p_text_post_name, p_text_community_name,
                             p_text_community_name_en) THEN
        code := 'stale_texts';
        RETURN;
    END IF;

    -- 1b. A free place while people wait: the line comes first, in the Python form.
    IF s.waitlist_count > 0 AND s.confirmed_count < s.capacity THEN
        code := 'waitlist_first';
        RETURN;
    END IF;

    -- 2. Then the volunteer (their overlap, rest and daily-limit checks), with the e-mail address.
    SELECT vo.id, vo.user_id, vo.volunteer_number, vo.status, vo.birth_date, vo.insurance_valid_until,
           vo.guardian_consent, vo.mobile, vo.notify_by_sms, vo.notify_by_email, vo.message_language,
           vo.anonymised_at, u.email
      INTO v
      FROM volunteers_volunteer vo JOIN auth_user u ON u.id = vo.user_id
     WHERE vo.id = coalesce(p_volunteer_id, (SELECT own.id FROM volunteers_volunteer own WHERE own.user_id = p_user_id))
       FOR NO KEY UPDATE OF vo;
    IF NOT FOUND THEN
        code := CASE WHEN p_volunteer_id IS NULL THEN 'not_a_volunteer' ELSE 'not_found' END;
        RETURN;
    END IF;
    v_id := v.id; v_user_id := v.user_id; v_volunteer_number := v.volunteer_number; v_mobile := v.mobile;
    v_notify_by_sms := v.notify_by_sms; v_notify_by_email := v.notify_by_email;
    v_message_language := v.message_language; v_anonymised_at := v.anonymised_at; v_email := v.email;
    IF p_texts IS NOT NULL THEN
        -- The volunteer's language, else the programme's (volunteers.selectors.volunteer_message_language).
        text_at := array_position(p_languages, coalesce(nullif(v.message_language, ''), p_default_language));
        IF text_at IS NULL THEN
            code := 'stale_texts';
            RETURN;
        END IF;
    END IF;

    -- 3. Every rule, in the one order (communities_sign_up_refusal): the window, a live place
    -- already, eligibility, the schedule.
    SELECT * INTO r FROM communities_sign_up_refusal(
        s.id, v.id, p_now, p_time_zone, p_close_before, p_min_rest, p_max_day_minutes, p_minor_age);
    IF r.code IS NOT NULL THEN
        code := r.code; d_shift := r.d_shift; d_starts := r.d_starts; d_ends := r.d_ends;
        d_reason := r.d_reason; d_status := r.d_status; d_missing := r.d_missing; d_min_age := r.d_min_age;
        d_day := r.d_day; d_minutes := r.d_minutes; d_opens := r.d_opens; d_closes := r.d_closes;
        RETURN;
    END IF;


    -- 4. A place if one is free (the conditional update; the check constraint backs it), else a
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

    -- 5. The notification rows, as communities.notifications.assignment_event makes them: the
    -- inbox entry (delivered by being created), then SMS and e-mail as the volunteer chose, in
    -- key order; an SMS waits for the end of quiet hours unless the shift starts before then.
    IF p_texts IS NOT NULL THEN
        text_at := (text_at - 1) * 5;
        n_urgent := p_quiet_end > p_now AND s.starts_at <= p_quiet_end;
        n_reachable := v.anonymised_at IS NULL;
        n_kind := a_status;
        IF taken = 1 THEN
            n_subject := p_texts[text_at + 1];
            n_body := p_texts[text_at + 2];
        ELSE
            n_subject := p_texts[text_at + 3];
            n_body := p_texts[text_at + 4] || a_position::text || p_texts[text_at + 5];
        END IF;
        INSERT INTO communities_notification (
            key, kind, channel, recipient_id, assignment_id, shift_id, urgent, subject, body, state,
            send_after, sent_at, created_at, attempts, last_error, claimed_at, read_at
        )
        SELECT 'a' || a_id || ':' || n_kind || ':' || m.channel || ':u' || v.user_id, n_kind, m.channel, v.user_id,
               a_id, s.id, n_urgent, n_subject, n_body, m.state, m.send_after, m.sent_at, p_now, 0, '', NULL, NULL
          FROM (VALUES
                    ('email', 'pending', p_now, NULL::timestamptz,
                     n_reachable AND v.notify_by_email AND coalesce(v.email, '') <> ''),
                    ('inapp', 'sent', p_now, p_now, true),
                    ('sms', 'pending', CASE WHEN n_urgent THEN p_now ELSE p_quiet_end END, NULL::timestamptz,
                     n_reachable AND v.notify_by_sms AND coalesce(v.mobile, '') <> '')
               ) AS m(channel, state, send_after, sent_at, wanted)
         WHERE m.wanted
         ORDER BY 1
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;
