//! The demo's forum content: a week in the groups of a mid-sized Dutch municipality.
//!
//! Plain data. Each thread is a title and its posts; a post names who writes it by an index into
//! the members of the group's roles (so the content fits whatever people the config lists), how
//! many hours before "now" it was written, its tags, likes, whether it is the best answer and
//! whether a colleague nominated it as training material. Some questions stay unanswered for
//! days, so digests show "Can you help?".

/// One post of a demo thread.
pub struct DemoPost {
    /// Which member of the group writes it (index, wrapped around the group's members).
    pub author: usize,
    /// Hours before the demo's "now".
    pub hours_ago: i64,
    /// Markdown body.
    pub body: &'static str,
    /// Tags, e.g. `training`.
    pub tags: &'static [&'static str],
    /// Likes on the forum.
    pub likes: u32,
    /// Marked as the thread's best answer.
    pub best_answer: bool,
    /// Nominated as a training highlight (by a colleague in the group).
    pub nominated: bool,
}

/// One demo thread.
pub struct DemoThread {
    /// Group id (from `config/digestd.toml`).
    pub group: &'static str,
    /// Title.
    pub title: &'static str,
    /// Posts, oldest first.
    pub posts: &'static [DemoPost],
}

const fn p(author: usize, hours_ago: i64, body: &'static str) -> DemoPost {
    DemoPost {
        author,
        hours_ago,
        body,
        tags: &[],
        likes: 0,
        best_answer: false,
        nominated: false,
    }
}

const fn liked(author: usize, hours_ago: i64, likes: u32, body: &'static str) -> DemoPost {
    DemoPost {
        author,
        hours_ago,
        body,
        tags: &[],
        likes,
        best_answer: false,
        nominated: false,
    }
}

const fn training(author: usize, hours_ago: i64, likes: u32, body: &'static str) -> DemoPost {
    DemoPost {
        author,
        hours_ago,
        body,
        tags: &["training"],
        likes,
        best_answer: false,
        nominated: false,
    }
}

const fn best(author: usize, hours_ago: i64, likes: u32, body: &'static str) -> DemoPost {
    DemoPost {
        author,
        hours_ago,
        body,
        tags: &["best-answer"],
        likes,
        best_answer: true,
        nominated: false,
    }
}

const fn nominated(author: usize, hours_ago: i64, likes: u32, body: &'static str) -> DemoPost {
    DemoPost {
        author,
        hours_ago,
        body,
        tags: &[],
        likes,
        best_answer: false,
        nominated: true,
    }
}

const fn question(author: usize, hours_ago: i64, body: &'static str) -> DemoPost {
    DemoPost {
        author,
        hours_ago,
        body,
        tags: &["question"],
        likes: 0,
        best_answer: false,
        nominated: false,
    }
}

/// The demo's threads.
pub const THREADS: &[DemoThread] = &[
    DemoThread {
        group: "social-work",
        title: "Debt counselling referrals: who picks up after the intake?",
        posts: &[
            p(0, 150, "We keep losing residents between the intake at the front desk and the first appointment with debt counselling. Three families last month never got a call back. **Who owns the hand-over** in your district?"),
            nominated(1, 140, 4, "In Noord we book the first appointment *during* the intake, on the spot. The counsellor's calendar is shared with the front desk. No-shows dropped from about 30% to under 10%."),
            best(2, 120, 9, "What worked for us:\n\n1. Book the follow-up before the resident leaves.\n2. Send an SMS reminder the day before (the template is in the shared drive under *Schuldhulp/Sjablonen*).\n3. If they miss it, the same counsellor calls within two working days, not a new one.\n\nThe continuity of the person matters more than anything."),
            p(3, 30, "Thanks, we are trying the shared calendar from next week. Does anyone have the SMS template in English as well? Many of our residents don't read Dutch."),
        ],
    },
    DemoThread {
        group: "social-work",
        title: "Home visits in winter: safety checklist",
        posts: &[
            training(1, 100, 6, "Before the cold season starts, here is the checklist we use for home visits to vulnerable residents:\n\n- Is the heating on and does it work?\n- Carbon monoxide detector present?\n- Enough food in the house for three days?\n- Who checks in on them if they fall ill?\n\nPlease add what you use."),
            p(4, 60, "We also ask whether they can afford to keep the heating on. The energy allowance application takes ten minutes if you do it together on the spot."),
            p(0, 12, "Adding: check the medication list. Last winter we found two people who had stopped taking theirs to save money."),
        ],
    },
    DemoThread {
        group: "youth-care",
        title: "Waiting lists for youth mental health: what do you tell parents?",
        posts: &[
            p(5, 90, "Parents call me every week asking how long the wait is. The honest answer is 14 weeks. How do you handle these calls without promising anything you can't keep?"),
            liked(6, 70, 5, "I give them the number and then something they can do *this week*: the school's care coordinator, the parenting course at the community centre, the crisis line if it gets worse. Having a next step helps more than a shorter estimate."),
            p(5, 20, "Good point. I'll write a short list of 'things you can do while waiting' and share it here."),
        ],
    },
    DemoThread {
        group: "youth-care",
        title: "New privacy rules for sharing case notes with schools",
        posts: &[
            training(7, 160, 11, "Summary of the session with our privacy officer:\n\n- Share only what the school needs for the child's support, not the full case file.\n- Always record *why* you shared and with whom.\n- Parents must be told, unless that puts the child at risk.\n\nSlides are attached to the original post on the forum."),
            p(6, 40, "Does 'what the school needs' include the diagnosis? Our schools always ask for it."),
            best(7, 35, 7, "Usually not. The school needs to know what support the child needs in class, not the diagnosis itself. If in doubt, ask the parents to share it themselves."),
        ],
    },
    DemoThread {
        group: "planning",
        title: "Heat stress maps for the new zoning plan",
        posts: &[
            p(8, 130, "The province published new heat stress maps. Has anyone worked them into a zoning plan yet? I'm unsure whether they count as a binding consideration."),
            liked(9, 110, 3, "We used them as a supporting study, not as a rule. The council liked seeing the map next to the tree-planting plan."),
            nominated(10, 50, 2, "Careful with the 2050 scenario layer: the legend in the PDF version is wrong (the colours for 'high' and 'very high' are swapped). The GIS layer is correct."),
            p(8, 8, "Good catch, thanks. Using the GIS layer."),
        ],
    },
    DemoThread {
        group: "planning",
        title: "Participation evenings: getting beyond the usual ten people",
        posts: &[
            p(9, 75, "Every participation evening we see the same ten residents. How do you reach younger people and renters?"),
            best(11, 45, 8, "Go where they are instead of asking them to come: we stood at the supermarket on a Saturday with the plan on a board and got 140 reactions in four hours. Evening sessions got us 12."),
            liked(10, 28, 2, "Online polls through the neighbourhood app also help, as long as you report back what you did with the answers."),
        ],
    },
    DemoThread {
        group: "permits",
        title: "Environment and Planning Act: a permit check that keeps failing",
        posts: &[
            p(12, 95, "Since the switch to the new national permit portal, the check for 'building in the back yard' gives a permit requirement where there shouldn't be one. Anyone else seeing this?"),
            liked(13, 80, 4, "Yes, it's the rule set for the old zoning plan still being active. Our functional administrator filed a ticket with the national service desk; it's a known issue."),
            training(12, 10, 3, "For new colleagues: how to read the permit check output, step by step. I wrote it down after explaining it five times this month.\n\n1. Look at the *activities* list first, not the conclusion.\n2. Each activity links to the rule that triggered it.\n3. If a rule points to an old plan, check the transition register."),
        ],
    },
    DemoThread {
        group: "it-support",
        title: "Laptops not picking up the new VPN profile",
        posts: &[
            p(14, 50, "About twenty laptops in the town hall still use the old VPN profile after Monday's update. Forcing a policy sync doesn't help."),
            best(15, 44, 6, "The profile only installs after a reboot **while connected to the office network**. Working from home the whole week? Then it never applies. We put a note on the intranet asking people to reboot once at the office."),
            p(16, 20, "Confirmed, that fixed it for the planning department. Eight laptops to go."),
        ],
    },
    DemoThread {
        group: "it-support",
        title: "Phishing test results and what to do next",
        posts: &[
            training(15, 140, 10, "Results of last month's phishing test: 11% clicked, 3% entered their password. Most clicks came from the 'parcel delivery' message on a phone.\n\nWhat we teach now:\n\n- Hover or long-press before you tap.\n- Report with the button, don't just delete.\n- Entered your password? Call the service desk *at once*; it's not a disciplinary matter."),
            p(17, 65, "Can we get the report button on the phone app as well? That's where people read mail now."),
            p(14, 15, "It's coming with the next app update, expected in two weeks."),
        ],
    },
    DemoThread {
        group: "hr",
        title: "Onboarding buddies for new case workers",
        posts: &[
            p(18, 85, "We hired nine new case workers this autumn. Several told us they felt lost in the first month. Would a buddy system help, and who has time for it?"),
            liked(19, 55, 5, "We did it in youth care: a buddy gets two hours a week for the first six weeks, written into their planning. It only works if the hours are real."),
            training(18, 5, 4, "Draft buddy guide for feedback (one page): what the buddy does in week 1, week 2-3 and week 4-6, and what they don't do (they're not the manager)."),
        ],
    },
    DemoThread {
        group: "all-staff",
        title: "Which training helped you most this year?",
        posts: &[
            p(19, 120, "The training budget for next year is being set. Which course or session actually changed how you work? Short answers welcome."),
            liked(0, 100, 7, "The de-escalation training for front-desk situations. Used it twice the week after."),
            liked(8, 96, 3, "The GIS basics course. I can now make my own maps instead of waiting two weeks for one."),
            liked(14, 70, 2, "Plain-language writing. Our letters got shorter and residents call less."),
            p(5, 22, "Mentoring from a colleague in another department. Not a course, but it taught me the most."),
        ],
    },
    DemoThread {
        group: "social-work",
        title: "Interpreter for a home visit at short notice?",
        posts: &[
            question(2, 70, "A family I visit on Thursday speaks only Tigrinya and the interpreting service has no one free. Is there a colleague or a volunteer we have worked with before? How do you arrange this at short notice?"),
            p(2, 66, "Addition: a phone interpreter would also be fine, if anyone knows a service that can do it this week."),
        ],
    },
    DemoThread {
        group: "youth-care",
        title: "Consent forms for a child with parents who disagree",
        posts: &[
            question(6, 100, "The parents of a 12-year-old are divorced and disagree about starting therapy. Whose signature do we need, and what if one parent refuses?"),
            p(5, 96, "Following this one, we have the same situation in our team."),
        ],
    },
    DemoThread {
        group: "planning",
        title: "Tiny houses in back yards: permit-free or not?",
        posts: &[question(9, 80, "A resident wants to place a tiny house in their back yard for their mother. Is that permit-free as a 'mantelzorgwoning' under the new act, or do we treat it as a second dwelling?")],
    },
    DemoThread {
        group: "it-support",
        title: "Shared mailbox does not sync on phones",
        posts: &[p(16, 55, "Since last week the team's shared mailbox no longer appears in the mail app on our phones, only on laptops. Is this a known change, and is there a workaround?")],
    },
    DemoThread {
        group: "all-staff",
        title: "Town hall closed on Friday afternoon for the evacuation drill",
        posts: &[p(18, 26, "Reminder: the evacuation drill is on Friday at 14:00. Front desks close at 13:30. Please tell residents with appointments; the text for the website is ready.")],
    },
];
