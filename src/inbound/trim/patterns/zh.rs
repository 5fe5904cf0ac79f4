//! Chinese (simplified and traditional).

use super::{
    Format, FormatKind::*, Language, APPLE, GMAIL, MAILPARSER_REPLY, OUTLOOK, THUNDERBIRD,
};

/// Chinese.
pub const ZH: Language = Language {
    code: "zh",
    verbs: &["写道", "寫道"],
    leads: &[],
    verbs_on: &[],
    openers: &[],
    separators: &["原始邮件", "原始郵件", "转发邮件", "轉寄郵件", "原始消息", "原始信息", "转发的邮件"],
    forward_sentences: &["以下是转发的邮件", "转发的邮件"],
    header_labels: &[
        "发件人",
        "发送时间",
        "收件人",
        "抄送",
        "主题",
        "日期",
        "寄件者",
        "傳送時間",
        "寄件日期",
        "收件者",
        "副本",
        "主旨",
    ],
    signoffs: &[r"從我的\s*\S+\s*傳送", r"发自我的\s*\S+", r"从我的\s*\S+\s*发送"],
    reply_above: &[],
    formats: &[
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "张伟 <zhangwei@example.cn> 于2024年1月1日周一 10:00写道：",
            source: GMAIL,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "王小明 <wang@example.tw> 於 2024年1月1日 週一 上午10:00寫道：",
            source: GMAIL,
        },
        Format {
            client: "Gmail",
            kind: Attribution,
            sample: "雨州 <yuzhou.liu@example.com> 在 2026年2月29日 周六 19:47 写道：",
            source: MAILPARSER_REPLY,
        },
        Format {
            client: "Apple Mail",
            kind: Attribution,
            sample: "2024年1月1日 10:00，张伟 <zhangwei@example.cn> 写道：",
            source: APPLE,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "在 2024/1/1 10:00, 张伟 写道:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Thunderbird",
            kind: Attribution,
            sample: "王小明 於 2024/1/1 10:00 寫道:",
            source: THUNDERBIRD,
        },
        Format {
            client: "Outlook",
            kind: HeaderBlock,
            sample: "发件人: 张伟 <zhangwei@example.cn>\n发送时间: 2024年1月1日 10:00\n收件人: 李娜 <lina@example.cn>\n主题: 排班表",
            source: OUTLOOK,
        },
        Format {
            client: "QQ Mail",
            kind: Separator,
            sample: "------------------ 原始邮件 ------------------",
            source: OUTLOOK,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "发自我的iPhone",
            source: APPLE,
        },
        Format {
            client: "iOS Mail",
            kind: Signoff,
            sample: "從我的 iPhone 傳送",
            source: APPLE,
        },
    ],
};
