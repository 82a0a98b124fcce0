"""Simplified Chinese for every English template the bot shows (keyed by the English text).

Placeholders in braces stay as they are; Slack mrkdwn (``*bold*``, backticks, ``<@U…>``) too.
"""

ZH: dict[str, str] = {
    # --- login ----------------------------------------------------------------------------------
    "Account": "账户",
    "IAM user of an account": "账户下的 IAM 用户",
    "Project user (IAM2)": "项目用户（IAM2）",
    "ZStack login": "登录 ZStack",
    "Log in": "登录",
    "Log out": "退出登录",
    "Cancel": "取消",
    "Close": "关闭",
    "Done": "完成",
    "Log in as": "登录身份",
    "Account name": "账户名",
    "User name": "用户名",
    "Password": "密码",
    "account name": "账户名",
    "user name": "用户名",
    "Log in to ZStack at `{endpoint}` so the bot can act as you.": (
        "登录 `{endpoint}` 上的 ZStack，机器人将以你的身份操作。"
    ),
    "Needed for an account and for an IAM user.": "账户和 IAM 用户登录时必填。",
    "The IAM user name, or the project (IAM2) user name.": "IAM 用户名，或项目（IAM2）用户名。",
    "Hashed (SHA-512) on arrival and never stored. Slack shows it as you type.": (
        "收到后立即做 SHA-512 哈希，从不保存。注意：Slack 会显示你输入的内容。"
    ),
    "The bot keeps only your ZStack session, encrypted, until it expires.": (
        "机器人只加密保存你的 ZStack 会话，直到会话过期。"
    ),
    "Logging in to ZStack as *{who}*…": "正在以 *{who}* 身份登录 ZStack…",
    "Logged in to ZStack as *{who}* ({kind}).\nYour session expires {when} unless you use it; "
    "`/zstack logout` ends it now.": (
        "已以 *{who}*（{kind}）身份登录 ZStack。\n会话在 {when} 过期（使用时会自动续期）；"
        "`/zstack logout` 可立即结束会话。"
    ),
    "You are logged in to ZStack at `{endpoint}` as *{who}* ({kind}). Session expires {when}.": (
        "你已登录 `{endpoint}` 上的 ZStack，身份为 *{who}*（{kind}）。会话在 {when} 过期。"
    ),
    "You are not logged in to ZStack. Run `/zstack login` to log in.": (
        "你尚未登录 ZStack。请运行 `/zstack login` 登录。"
    ),
    "Your ZStack session has expired or was ended in ZStack, so the bot forgot it. "
    "Run `/zstack login` to log in again.": (
        "你的 ZStack 会话已过期或已在 ZStack 中结束，机器人已将其移除。请运行 `/zstack login` 重新登录。"
    ),
    "You were not logged in to ZStack; nothing to do.": "你尚未登录 ZStack，无需退出。",
    "Logged out of ZStack (*{who}*). The bot no longer holds a session for you.": (
        "已退出 ZStack（*{who}*）。机器人不再保存你的会话。"
    ),
    "*ZStack session commands*": "*ZStack 会话命令*",
    "• `/zstack login` — log in (account, IAM user or project user); the bot then acts as you": (
        "• `/zstack login` — 登录（账户、IAM 用户或项目用户），之后机器人以你的身份操作"
    ),
    "• `/zstack whoami` — who you are logged in as, where, and until when": (
        "• `/zstack whoami` — 查看当前登录身份、地址和有效期"
    ),
    "• `/zstack logout` — end your ZStack session and remove it from the bot": (
        "• `/zstack logout` — 结束 ZStack 会话并从机器人中移除"
    ),
    "• `/zstack help` — this help": "• `/zstack help` — 显示本帮助",
    "Clone a model service with `/clone-model [source]`.": "使用 `/clone-model [源服务]` 克隆模型服务。",
    "I don't know `/zstack {text}`.": "无法识别命令 `/zstack {text}`。",
    "Choose how to log in.": "请选择登录方式。",
    "Enter the {what}.": "请输入{what}。",
    "The {what} is too long (at most {max} characters).": "{what}过长（最多 {max} 个字符）。",
    "The {what} contains characters that cannot be typed.": "{what}包含无法输入的字符。",
    "Enter the password.": "请输入密码。",
    "ZStack refused the login: {details}": "ZStack 拒绝登录：{details}",
    "ZStack returned a session that had already expired; check the ZStack clock.": (
        "ZStack 返回的会话已经过期，请检查 ZStack 的时钟。"
    ),
    # --- errors ---------------------------------------------------------------------------------
    "The bot's storage is unavailable right now, so nothing was changed. "
    "Please try again in a minute.": "机器人的存储暂时不可用，未做任何更改。请稍后重试。",
    "ZStack at `{endpoint}` is not reachable right now (no answer in time or connection "
    "refused). Please try again in a minute; if it persists, tell your ZStack admin.": (
        "暂时无法连接 `{endpoint}` 上的 ZStack（超时或连接被拒绝）。请稍后重试；"
        "如果持续出现，请联系 ZStack 管理员。"
    ),
    "Something went wrong on the bot's side and your last action may not have completed. "
    "Please try again; if it keeps happening, give this reference to the bot's operators: "
    "`{reference}`.": (
        "机器人内部出错，你刚才的操作可能没有完成。请重试；如果问题持续，请将此编号提供给机器人运维人员："
        "`{reference}`。"
    ),
    "Slack's time to open that dialog ran out before the bot could open it. Please try again.": (
        "Slack 打开对话框的时限已过，机器人没来得及打开。请重试。"
    ),
    "Your clone request {id} could not be posted in <#{channel}> (Slack said `{code}`), so "
    "nobody could approve it; it was withdrawn. Ask an admin to invite the bot to that channel "
    "(or to check CLONEBOT_APPROVAL_CHANNEL), then submit it again.": (
        "你的克隆申请 {id} 无法发布到 <#{channel}>（Slack 返回 `{code}`），没有人能审批，申请已撤回。"
        "请联系管理员把机器人邀请到该频道（或检查 CLONEBOT_APPROVAL_CHANNEL），然后重新提交。"
    ),
    # --- clone form -----------------------------------------------------------------------------
    "Clone model service": "克隆模型服务",
    "Request clone": "提交申请",
    "Looking up the model service…": "正在查找模型服务…",
    "Model service to clone": "要克隆的模型服务",
    "Only the services your ZStack login can see are listed.": "只列出你的 ZStack 登录身份可见的服务。",
    "Several services match; choose one": "有多个服务匹配，请选择一个",
    "Type to search model services": "输入以搜索模型服务",
    "Name of the new model service": "新模型服务的名称",
    "Description": "描述",
    "Type": "类型",
    "Model source": "模型来源",
    "Framework": "框架",
    "Free text, e.g. vLLM, Transformers, BentoML.": "自由填写，如 vLLM、Transformers、BentoML。",
    "CPU cores": "CPU 核数",
    "Memory (MiB)": "内存（MiB）",
    "GPU compute capability": "GPU 计算能力",
    "Minimum, e.g. 7.5.": "最低要求，如 7.5。",
    "CPU architectures": "CPU 架构",
    "Images per architecture": "各架构镜像",
    "One line per architecture: `arch container-image [vm-image-uuid]`; `-` for none.": (
        "每行一个架构：`架构 容器镜像 [虚拟机镜像UUID]`；无则填 `-`。"
    ),
    "Options": "选项",
    "Supports distributed deployment": "支持分布式部署",
    "System model service": "系统模型服务",
    "Show advanced options": "显示高级选项",
    "Hide advanced options": "隐藏高级选项",
    "Advanced options": "高级选项",
    "Readme, YAML, commands, versions, tags and GPU specs keep the source's values unless "
    "you change them under advanced options.": (
        "Readme、YAML、命令、版本、标签和 GPU 规格沿用源服务的值，除非在高级选项中修改。"
    ),
    "Reason (for the approver)": "申请理由（给审批人看）",
    "Why this clone is needed.": "为什么需要这次克隆。",
    "Readme": "Readme",
    "Empty keeps the source's readme.": "留空则沿用源服务的 Readme。",
    "Service YAML": "服务 YAML",
    "Must be valid YAML. Empty keeps the source's.": "必须是合法的 YAML；留空则沿用源服务的值。",
    "Size (bytes)": "大小（字节）",
    "Install path": "安装路径",
    "Start command": "启动命令",
    "Python version": "Python 版本",
    "Conda version": "Conda 版本",
    "Container command": "容器命令",
    "Container arguments": "容器参数",
    "Resource UUID": "资源 UUID",
    "32 hex characters, optional.": "32 位十六进制字符，可选。",
    "Tag UUIDs": "标签 UUID",
    "Separated by commas or spaces.": "用逗号或空格分隔。",
    "GPU specs by vendor": "各厂商 GPU 规格",
    "One line per vendor: `NVIDIA: spec-uuid, spec-uuid`.": "每行一个厂商：`NVIDIA: 规格UUID, 规格UUID`。",
    "System tags": "系统标签",
    "User tags": "用户标签",
    "One per line.": "每行一个。",
    "The current value is too long to edit here ({count} characters). Leave empty to keep it.": (
        "当前值过长，无法在此编辑（{count} 个字符）。留空即可保留。"
    ),
    "Several model services match *{text}*; choose one.": "有多个模型服务匹配 *{text}*，请选择一个。",
    "No model service you can see matches *{text}*. Search for one in the field below.": (
        "没有你可见的模型服务匹配 *{text}*。请在下方字段中搜索。"
    ),
    "ZStack could not look up the model service: {error}": "ZStack 无法查询该模型服务：{error}",
    "Log in to ZStack first; the clone form opens right after.": "请先登录 ZStack，登录后会立即打开克隆表单。",
    # --- form validation ------------------------------------------------------------------------
    "Enter text.": "请输入文本。",
    "Choose from the list.": "请从列表中选择。",
    "Remove the control characters from this field.": "请删除此字段中的控制字符。",
    "At most {limit} characters (this has {count}).": "最多 {limit} 个字符（当前 {count} 个）。",
    "Enter a whole number.": "请输入整数。",
    "Enter a number from {low} to {high}{unit}.": "请输入 {low} 到 {high}{unit} 之间的数字。",
    "Choose the model service to clone.": "请选择要克隆的模型服务。",
    "Enter a name for the new model service.": "请输入新模型服务的名称。",
    "Enter a reason.": "请填写申请理由。",
    "Choose one of {choices}.": "请从 {choices} 中选择一个。",
    "Use the major.minor form, e.g. 7.5 or 8.0.": "请使用“主版本.次版本”格式，如 7.5 或 8.0。",
    "Unknown architecture: {arch}.": "未知架构：{arch}。",
    "This YAML is nested too deeply or repeats anchors too often (at most {depth} levels, {aliases} aliases).": (
        "此 YAML 嵌套过深或引用锚点过多（最多 {depth} 层、{aliases} 个别名）。"
    ),
    "At most {limit} characters.": "最多 {limit} 个字符。",
    "This is not valid YAML{where}.": "这不是合法的 YAML{where}。",
    "A UUID is 32 hexadecimal characters without dashes.": "UUID 是 32 位十六进制字符，不含连字符。",
    "Not a UUID (32 hex characters): {value}": "不是 UUID（32 位十六进制字符）：{value}",
    "Each tag is at most {max} characters.": "每个标签最多 {max} 个字符。",
    "Line {n}: use `arch docker-image [vm-image-uuid]`.": "第 {n} 行：格式应为 `架构 容器镜像 [虚拟机镜像UUID]`。",
    "Line {n}: unknown architecture {arch}.": "第 {n} 行：未知架构 {arch}。",
    "Line {n}: {what} is listed twice.": "第 {n} 行：{what} 重复出现。",
    "Line {n}: {image} is not a container image reference.": "第 {n} 行：{image} 不是合法的容器镜像地址。",
    "Line {n}: the VM image must be a 32-hex UUID.": "第 {n} 行：虚拟机镜像必须是 32 位十六进制 UUID。",
    "Line {n}: give a container image, a VM image UUID, or both.": (
        "第 {n} 行：请填写容器镜像或虚拟机镜像 UUID（或两者）。"
    ),
    "Line {n}: use `VENDOR: spec-uuid, spec-uuid`.": "第 {n} 行：格式应为 `厂商: 规格UUID, 规格UUID`。",
    "Line {n}: GPU spec UUIDs are 32 hex characters.": "第 {n} 行：GPU 规格 UUID 为 32 位十六进制字符。",
    "This field is required.": "此字段必填。",
    "Check this field.": "请检查此字段。",
    # --- request card and notices ---------------------------------------------------------------
    "Waiting for approval": "等待审批",
    "Approved, starting": "已批准，正在启动",
    "Sending to ZStack": "正在提交到 ZStack",
    "Cloning in ZStack": "ZStack 克隆中",
    "Failed": "失败",
    "Rejected": "已拒绝",
    "Cancelled": "已取消",
    "Expired": "已过期",
    "Waiting for the requester to log in to ZStack": "等待申请人登录 ZStack",
    "anyone in this channel except the requester": "本频道中除申请人外的任何人",
    "{count} approvals needed": "需要 {count} 个批准",
    "one approval needed": "需要 1 个批准",
    "Approvers: {who} · {need}": "审批人：{who} · {need}",
    "Approve": "批准",
    "Reject": "拒绝",
    "Back": "返回",
    "Cancel request": "取消申请",
    "Approve this clone?": "批准这次克隆？",
    "The bot will clone {source} into {target} as the requester.": (
        "机器人将以申请人的身份把 {source} 克隆为 {target}。"
    ),
    "Clone request {id}": "克隆申请 {id}",
    "a model service": "某个模型服务",
    "<@{requester}> asks to clone *{source}* {uuid} into *{target}*.": (
        "<@{requester}> 申请将 *{source}* {uuid} 克隆为 *{target}*。"
    ),
    "State": "状态",
    "CPU / memory": "CPU / 内存",
    "Architectures": "架构",
    "*Reason*": "*申请理由*",
    "{n} vCPU": "{n} 核",
    "source's CPU": "沿用源服务 CPU",
    "source's memory": "沿用源服务内存",
    "expires {when}": "{when} 过期",
    "<@{requester}> runs `/zstack login`.": "<@{requester}> 需运行 `/zstack login`。",
    "job": "任务",
    "approved by {who}": "批准人 {who}",
    "created *{name}* {uuid} in {took}.": "已创建 *{name}* {uuid}，用时 {took}。",
    "unknown error": "未知错误",
    "Retry": "重试",
    "Try again": "重试",
    "by <@{who}>": "操作人 <@{who}>",
    "nobody decided in time": "无人及时处理",
    "Clone request {id} from <@{requester}>: {source} → {target} ({state})": (
        "<@{requester}> 的克隆申请 {id}：{source} → {target}（{state}）"
    ),
    "*Parameters of {id}* (sent inside `params` to CloneModelService)": (
        "*{id} 的参数*（放在 `params` 中发送给 CloneModelService）"
    ),
    "Parameters of {id}": "{id} 的参数",
    "{count} characters": "{count} 个字符",
    "Show full values": "查看完整内容",
    "Reject request": "拒绝申请",
    "Reject *{id}* ({names})?": "拒绝 *{id}*（{names}）？",
    "Reason (the requester sees it)": "拒绝理由（申请人可见）",
    "in the approval channel": "在审批频道中",
    "in <#{channel}>": "在 <#{channel}>",
    "Your clone request *{id}* ({names}) is waiting for approval {where}. "
    "Follow it there, or with `/clone-model status {id}`.": (
        "你的克隆申请 *{id}*（{names}）正{where}等待审批。可在那里跟进，或使用 `/clone-model status {id}`。"
    ),
    "requested by <@{requester}> {when}": "由 <@{requester}> 于 {when} 提交",
    "Approvals: {have}/{need} · expires {when}": "批准：{have}/{need} · {when} 过期",
    "ZStack job: {job}": "ZStack 任务：{job}",
    "Error: {error}": "错误：{error}",
    "Created {uuid}": "已创建 {uuid}",
    "You have no clone requests yet. Start one with `/clone-model [source]`.": (
        "你还没有克隆申请。使用 `/clone-model [源服务]` 发起一个。"
    ),
    "*Your recent clone requests*": "*你最近的克隆申请*",
    # --- /clone-model help, status ---------------------------------------------------------------
    "*Clone a ZStack model service*": "*克隆 ZStack 模型服务*",
    "• `/clone-model [source]` — open the clone form; `source` is a model-service UUID or name": (
        "• `/clone-model [源服务]` — 打开克隆表单；源服务可以是模型服务的 UUID 或名称"
    ),
    "• `/clone-model status CR-XXXXXX` — where a request stands": "• `/clone-model status CR-XXXXXX` — 查看申请进度",
    "• `/clone-model list` — your recent requests": "• `/clone-model list` — 你最近的申请",
    "• `/clone-model help` — this help": "• `/clone-model help` — 显示本帮助",
    "A colleague approves the request in its thread; the bot then clones as *you*, with your "
    "ZStack login (`/zstack login`).": (
        "同事在申请的消息线程中审批；之后机器人使用你的 ZStack 登录（`/zstack login`）以 *你* 的身份克隆。"
    ),
    "Give a request id, e.g. `/clone-model status CR-7F3K2Q`.": "请提供申请编号，如 `/clone-model status CR-7F3K2Q`。",
    "There is no request {id} (or it is older than 30 days).": "不存在申请 {id}（或已超过 30 天）。",
    "There is no request {id}.": "不存在申请 {id}。",
    # --- results --------------------------------------------------------------------------------
    "Cloned: {name}": "克隆完成：{name}",
    "<@{requester}>, *{name}* {uuid} is ready ({id}, {took} after approval).": (
        "<@{requester}>，*{name}* {uuid} 已就绪（{id}，批准后 {took}）。"
    ),
    "Source": "来源",
    "Python / Conda": "Python / Conda",
    "Distributed": "分布式",
    "Created": "创建时间",
    "yes": "是",
    "no": "否",
    "(ZStack time)": "（ZStack 时间）",
    "container {image}": "容器镜像 {image}",
    "VM image {image}": "虚拟机镜像 {image}",
    "*Images*": "*镜像*",
    "Open in ZStack": "在 ZStack 中打开",
    "Clone failed: {name}": "克隆失败：{name}",
    "<@{requester}>, ZStack could not clone *{source}* ({id}, after {took}).": (
        "<@{requester}>，ZStack 未能克隆 *{source}*（{id}，用时 {took}）。"
    ),
    "Code": "错误码",
    "Details": "详情",
    "root cause": "根因",
    "level {n}": "第 {n} 层",
    "… and {n} more": "… 还有 {n} 条",
    "*Cause chain, root first*": "*错误原因链（根因在前）*",
    "Raw error JSON": "原始错误 JSON",
    "(cut: the error is very large)": "（已截断：错误内容过大）",
    "Error of {id}": "{id} 的错误",
    "No long values in this request.": "此申请没有长内容。",
    "{id} values": "{id} 的内容",
    "{id} done: {name} ({uuid}) was created.": "{id} 完成：已创建 {name}（{uuid}）。",
    "{id} failed: {reason}": "{id} 失败：{reason}",
    "{id} expired {when}: nobody decided in time.": "{id} 已于 {when} 过期：无人及时处理。",
    # --- decisions ------------------------------------------------------------------------------
    "{id} is no longer waiting for approval (it is {state}).": "{id} 已不在等待审批（当前状态：{state}）。",
    "{id} is no longer waiting for a decision (it is {state}).": "{id} 已不在等待处理（当前状态：{state}）。",
    "You can't approve your own request; another approver has to.": "你不能批准自己的申请，需要其他审批人批准。",
    "You already approved {id}; it needs another approver.": "你已批准过 {id}，还需要其他审批人。",
    "You are not on the approver list for clone requests.": "你不在克隆申请的审批人名单中。",
    "Only members of the workspace this request was made in can decide on it.": (
        "只有提出此申请的工作区的成员才能审批它。"
    ),
    "To withdraw your own request, use Cancel.": "要撤回自己的申请，请使用“取消申请”。",
    "Only the requester can cancel a request.": "只有申请人可以取消申请。",
    "{id} can't be cancelled any more (it is {state}).": "{id} 已无法取消（当前状态：{state}）。",
    "Only a failed request can be retried ({id} is {state}).": "只有失败的申请可以重试（{id} 当前状态：{state}）。",
    "Only the requester or an approver can retry a request.": "只有申请人或审批人可以重试申请。",
    "Say why, so the requester can fix it.": "请说明理由，便于申请人修改。",
    "Say why: reply `reject <reason>` so the requester can fix it.": (
        "请说明理由：回复 `reject <理由>`，便于申请人修改。"
    ),
    "<@{user}> approved ({count} approvals).": "<@{user}> 已批准（{count} 个批准）。",
    "<@{user}> approved. Cloning as <@{requester}>…": "<@{user}> 已批准。正在以 <@{requester}> 的身份克隆…",
    "<@{user}> rejected {id}{why}": "<@{user}> 拒绝了 {id}{why}",
    "<@{user}> cancelled {id}.": "<@{user}> 取消了 {id}。",
    "<@{user}> retried {id}.": "<@{user}> 重试了 {id}。",
    "You already approved {id}.": "你已批准过 {id}。",
    "{id} was already decided: it is {state}.": "{id} 已有结果：当前状态为 {state}。",
    "{id} is approved, but <@{requester}>'s ZStack session has expired. It goes ahead as soon "
    "as they run `/zstack login`.": (
        "{id} 已批准，但 <@{requester}> 的 ZStack 会话已过期。待其运行 `/zstack login` 后立即继续。"
    ),
    "Your clone request {id} was approved, but your ZStack session has expired. Run "
    "`/zstack login`; the clone starts right after.": (
        "你的克隆申请 {id} 已批准，但你的 ZStack 会话已过期。请运行 `/zstack login`，登录后克隆立即开始。"
    ),
    "<@{user}> logged in; cloning {id} now.": "<@{user}> 已登录，现在开始克隆 {id}。",
    # --- App Home -------------------------------------------------------------------------------
    "You are not logged in to ZStack at `{endpoint}`. Log in so the bot can clone model "
    "services as you.": "你尚未登录 `{endpoint}` 上的 ZStack。登录后机器人才能以你的身份克隆模型服务。",
    "Logged in to ZStack at `{endpoint}` as *{who}* ({kind}).\nSession expires {when}.": (
        "已登录 `{endpoint}` 上的 ZStack，身份为 *{who}*（{kind}）。\n会话在 {when} 过期。"
    ),
    "Waiting for your approval": "等待你审批",
    "Nothing is waiting for you.": "没有等待你处理的申请。",
    "from <@{requester}> · {have}/{need} approvals · expires {when}": (
        "申请人 <@{requester}> · 批准 {have}/{need} · {when} 过期"
    ),
    "Your recent requests": "你最近的申请",
    "No requests yet. Start one with `/clone-model [source]`.": "还没有申请。使用 `/clone-model [源服务]` 发起一个。",
    "`/clone-model help` lists every command.": "`/clone-model help` 列出全部命令。",
}
